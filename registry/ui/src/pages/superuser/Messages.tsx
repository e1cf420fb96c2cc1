/**
 * Superuser Messages (`/messages`): the banners every visitor sees. Create with a severity and Markdown
 * (Write/Preview), delete. The banners themselves are the shell's GlobalMessages.
 */
import { useState } from 'react';
import { FormGroup, FormSelect, FormSelectOption, Label, PageSection, Tab, TabTitleText, Tabs, TextArea, Title } from '@patternfly/react-core';
import { useQuery } from '@tanstack/react-query';
import { api, enc } from '../../api/client';
import { useMe } from '../../api/hooks';
import ListWithActions from '../../components/ListWithActions';
import Markdown from '../../components/Markdown';
import type { GlobalMessage } from '../../shell/GlobalMessages';

const SEVERITIES = [
  { value: 'info', label: 'Normal (Info)', color: 'blue' },
  { value: 'warning', label: 'Warning', color: 'orange' },
  { value: 'error', label: 'Error', color: 'red' },
] as const;

export default function Messages() {
  const me = useMe();
  const [severity, setSeverity] = useState('info');
  const [content, setContent] = useState('');
  const [tab, setTab] = useState<string | number>('write');
  const q = useQuery({ queryKey: ['messages'], queryFn: () => api.get<{ messages: GlobalMessage[] }>('/messages'), select: (d) => d.messages });
  const writable = !!me.super_user && !me.global_readonly_super_user;
  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Messages</Title>
      </PageSection>
      <PageSection>
        <ListWithActions<GlobalMessage>
          label="Messages"
          query={q}
          rowKey={(m) => m.uuid}
          columns={[
            { title: 'Message', cell: (m) => (m.media_type === 'text/markdown' ? <Markdown source={m.content} /> : m.content) },
            {
              title: 'Severity',
              cell: (m) => {
                const s = SEVERITIES.find((x) => x.value === m.severity) ?? SEVERITIES[0];
                return <Label color={s.color}>{s.label}</Label>;
              },
            },
          ]}
          actions={
            writable
              ? () => [
                  {
                    title: 'Delete message',
                    confirm: () => 'Delete this message? Visitors stop seeing it at once.',
                    run: (m) => api.del(`/message/${enc(m.uuid)}`),
                    done: () => 'Message deleted',
                  },
                ]
              : undefined
          }
          create={
            writable
              ? {
                  label: 'Create Message',
                  submitDisabled: !content.trim(),
                  onSubmit: () => api.post('/messages', { message: { content, media_type: 'text/markdown', severity } }),
                  done: 'Message created',
                  onClose: () => {
                    setContent('');
                    setTab('write');
                  },
                  fields: (
                    <>
                      <FormGroup label="Severity" fieldId="message-severity">
                        <FormSelect id="message-severity" value={severity} onChange={(_e, v) => setSeverity(v)}>
                          {SEVERITIES.map((s) => (
                            <FormSelectOption key={s.value} value={s.value} label={s.label} />
                          ))}
                        </FormSelect>
                      </FormGroup>
                      <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k)} aria-label="Message editor">
                        <Tab eventKey="write" title={<TabTitleText>Write</TabTitleText>}>
                          <FormGroup label="Message (Markdown)" fieldId="message-content" style={{ marginTop: '1rem' }}>
                            <TextArea id="message-content" value={content} onChange={(_e, v) => setContent(v)} rows={6} />
                          </FormGroup>
                        </Tab>
                        <Tab eventKey="preview" title={<TabTitleText>Preview</TabTitleText>}>
                          <div style={{ marginTop: '1rem' }} data-testid="message-preview">
                            <Markdown source={content} />
                          </div>
                        </Tab>
                      </Tabs>
                    </>
                  ),
                }
              : undefined
          }
          empty={{ title: 'No messages', body: 'Messages appear as banners above every page, for every visitor.' }}
          invalidates={[['messages']]}
        />
      </PageSection>
    </>
  );
}
