/**
 * Where a trigger's repository lives: github.com / gitlab.com / bitbucket.org by default, the configured host
 * for GitHub Enterprise (GITHUB_TRIGGER_CONFIG.GITHUB_ENDPOINT) and a self-hosted GitLab (GITLAB_ENDPOINT),
 * in the trigger view's repository_url and in the SSH address a manual run of a hand-installed trigger clones.
 */
import { scmRepositoryUrl, scmSshUrl, type ScmHostsConfig } from '../../../registry/model/scm.js';
import { triggerView, type TriggerRow } from '../../../registry/model/triggers.js';

const cloud: ScmHostsConfig = {};
const enterprise: ScmHostsConfig = {
  GITHUB_TRIGGER_CONFIG: { CLIENT_ID: 'id', CLIENT_SECRET: 's', GITHUB_ENDPOINT: 'https://ghe.example.com/' },
  GITLAB_TRIGGER_CONFIG: { CLIENT_ID: 'id', CLIENT_SECRET: 's', GITLAB_ENDPOINT: 'https://git.example.com:8443' },
};

const trigger = (service: TriggerRow['service'], source: string): TriggerRow => ({
  id: 1,
  uuid: '0b7ae3c4-7f86-4b31-a4c7-2a3f51ab6b9c',
  service,
  repository_id: 1,
  connected_user_id: null,
  config: { build_source: source },
  pull_robot_id: null,
  pull_robot_name: null,
  enabled: true,
  disabled_reason: null,
  disabled_datetime: null,
  successive_failure_count: 0,
  successive_internal_error_count: 0,
  has_private_key: true,
  has_auth_token: false,
});

test('repository pages: the cloud services by default, the configured enterprise hosts otherwise', () => {
  expect(scmRepositoryUrl(cloud, 'github', 'octo/app')).toBe('https://github.com/octo/app');
  expect(scmRepositoryUrl(cloud, 'gitlab', 'team/app')).toBe('https://gitlab.com/team/app');
  expect(scmRepositoryUrl(cloud, 'bitbucket', 'ws/app')).toBe('https://bitbucket.org/ws/app');
  expect(scmRepositoryUrl(enterprise, 'github', 'octo/app')).toBe('https://ghe.example.com/octo/app');
  expect(scmRepositoryUrl(enterprise, 'gitlab', 'team/app')).toBe('https://git.example.com:8443/team/app');
});

test('SSH clone addresses name the same host', () => {
  expect(scmSshUrl(cloud, 'github', 'octo/app')).toBe('git@github.com:octo/app.git');
  expect(scmSshUrl(enterprise, 'github', 'octo/app')).toBe('git@ghe.example.com:octo/app.git');
  expect(scmSshUrl(enterprise, 'gitlab', 'team/app')).toBe('git@git.example.com:team/app.git');
});

test('the trigger view shows repository_url on the configured host; custom git has none; readers without access none', () => {
  expect(triggerView(trigger('github', 'octo/app'), { canAdmin: true }, enterprise).repository_url).toBe('https://ghe.example.com/octo/app');
  expect(triggerView(trigger('gitlab', 'team/app'), { canAdmin: true }, enterprise).repository_url).toBe('https://git.example.com:8443/team/app');
  expect(triggerView(trigger('github', 'octo/app'), { canAdmin: true }, cloud).repository_url).toBe('https://github.com/octo/app');
  expect(triggerView(trigger('custom-git', 'ssh://git@example.com/app.git'), { canAdmin: true }, enterprise).repository_url).toBeNull();
  expect(triggerView(trigger('github', 'octo/app'), { canAdmin: false, forBuild: true }, enterprise).repository_url).toBeNull();
});
