/**
 * What the custom-git and the GitHub/GitLab setup wizards and the trigger list share: the Trigger shape, the
 * tagging options (as listed and as edited), and the credentials view shown after activation.
 */
import { useState } from 'react';
import { Alert, Button, Checkbox, Flex, FormGroup, FormHelperText, HelperText, HelperTextItem, List, ListItem, TextInput } from '@patternfly/react-core';
import { Copy } from '../../components/common';

export interface Trigger {
  id: string;
  service: string;
  is_active: boolean;
  build_source: string | null;
  repository_url: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  pull_robot?: { name: string };
  config: {
    build_source?: string;
    dockerfile_path?: string;
    context?: string;
    branchtag_regex?: string;
    default_tag_from_ref?: boolean;
    latest_for_default_branch?: boolean;
    tag_templates?: string[];
    credentials?: { name: string; value: string }[];
    hook_id?: number;
    webhook_id?: string;
  };
}

/** The service names Quay's UI gives each trigger kind. */
export const SERVICE_TITLE: Record<string, string> = { github: 'GitHub', gitlab: 'GitLab', bitbucket: 'Bitbucket', 'custom-git': 'git' };

export function validRegex(s: string): boolean {
  if (!s) return true;
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}

export function TaggingOptions({ config }: { config: Trigger['config'] }) {
  return (
    <List isPlain>
      {config.default_tag_from_ref !== false && <ListItem>Branch/tag name</ListItem>}
      {config.latest_for_default_branch !== false && (
        <ListItem>
          <code>latest</code> if default branch
        </ListItem>
      )}
      {(config.tag_templates ?? []).map((t) => (
        <ListItem key={t} className="quay-mono">
          {t}
        </ListItem>
      ))}
    </List>
  );
}

export interface Tagging {
  tagFromRef: boolean;
  latest: boolean;
  templates: string[];
}

/** The "Tagging Options" step's fields: tag with the ref name, `latest` on the default branch, tag templates. */
export function TaggingFields({ value, onChange }: { value: Tagging; onChange: (patch: Partial<Tagging>) => void }) {
  const [template, setTemplate] = useState('');
  const addTemplate = () => {
    if (template && !value.templates.includes(template)) onChange({ templates: [...value.templates, template] });
    setTemplate('');
  };
  return (
    <>
      <FormGroup fieldId="trigger-tagging" role="group" label="Confirm basic tagging options" style={{ marginTop: '1rem' }}>
        <Checkbox
          id="trigger-tag-from-ref"
          label="Tag manifest with the branch or tag name"
          description="Tags the built manifest the name of the branch or tag for the git commit."
          isChecked={value.tagFromRef}
          onChange={(_e, v) => onChange({ tagFromRef: v })}
        />
        <Checkbox
          id="trigger-latest"
          label="Add latest tag if on default branch"
          description="Tags the built manifest with latest if the build occurred on the default branch for the repository."
          isChecked={value.latest}
          onChange={(_e, v) => onChange({ latest: v })}
        />
      </FormGroup>
      <FormGroup label="Add custom tagging templates" fieldId="trigger-tag-template" style={{ marginTop: '1rem' }}>
        {value.templates.length === 0 ? (
          <p>No tag templates defined.</p>
        ) : (
          <List isPlain aria-label="Tag templates">
            {value.templates.map((t) => (
              <ListItem key={t}>
                <span className="quay-mono">{t}</span>{' '}
                <Button variant="link" isInline onClick={() => onChange({ templates: value.templates.filter((x) => x !== t) })} aria-label={`Remove template ${t}`}>
                  Remove
                </Button>
              </ListItem>
            ))}
          </List>
        )}
        <Flex style={{ marginTop: 8 }}>
          <TextInput
            id="trigger-tag-template"
            aria-label="Enter a tag template"
            value={template}
            onChange={(_e, v) => setTemplate(v)}
            placeholder="${commit_info.short_sha}"
            style={{ width: '24rem' }}
          />
          <Button variant="secondary" onClick={addTemplate} isDisabled={!template}>
            Add template
          </Button>
        </Flex>
        <FormHelperText>
          <HelperText>
            <HelperTextItem>
              For example <code>{'${commit_info.short_sha}'}</code> or <code>{'${parsed_ref.branch}'}</code>.
            </HelperTextItem>
          </HelperText>
        </FormHelperText>
      </FormGroup>
      {!value.tagFromRef && value.templates.length === 0 && (
        <Alert variant="warning" isInline title="Tag with the branch or tag name, or add a tag template." style={{ marginTop: '1rem' }} />
      )}
    </>
  );
}

/**
 * A trigger's credentials. Custom git: the deploy key and the webhook URL are the user's to install. A
 * trigger attached to GitHub, GitLab or Bitbucket had both installed at the service on activation; its
 * webhook URL is shown for reference (Quay shows it under the trigger's hook at the service).
 */
export function Credentials({ t }: { t: Trigger }) {
  // Installing at the service records the hook's id in the config (GitHub, GitLab: hook_id; Bitbucket: webhook_id).
  const installed = t.config.hook_id !== undefined || t.config.webhook_id !== undefined;
  const shown = (t.config.credentials ?? []).filter((c) => !installed || c.name === 'Webhook Endpoint URL');
  return (
    <>
      {installed ? (
        <Alert variant="info" isInline title="Note:" style={{ marginBottom: '1rem' }}>
          The deploy key and the push hook were added to the {SERVICE_TITLE[t.service]} repository <span className="quay-mono">{t.config.build_source}</span>; pushes there start
          builds. The hook posts to the following URL.
        </Alert>
      ) : (
        <Alert variant="info" isInline title="Note:" style={{ marginBottom: '1rem' }}>
          In order to use this trigger, the following first requires action:
          <List>
            <ListItem>You must give the following public key read access to the git repository.</ListItem>
            <ListItem>You must set your repository to POST to the following URL to trigger a build.</ListItem>
          </List>
        </Alert>
      )}
      {shown.map((c) => (
        <FormGroup key={c.name} label={c.name} fieldId={`cred-${c.name}`} style={{ marginBottom: '1rem' }}>
          <Copy label={c.name} value={c.value} multiline={c.value.length > 80} testId={`credential-${c.name}`} />
        </FormGroup>
      ))}
    </>
  );
}
