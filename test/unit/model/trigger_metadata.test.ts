/**
 * Push payloads → trigger_metadata as Quay derives it (payloads shaped as GitHub's, GitLab's and
 * Bitbucket's documentation show them, under test/fixtures/triggers/), the webhook filters and the tag
 * naming matrix (Quay's test_basehandler cases plus templates).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../setup/paths.js';
import {
  bitbucketMetadata,
  checkedMetadata,
  checkNotSkipped,
  customGitMetadata,
  determineTags,
  githubMetadata,
  gitlabMetadata,
  InvalidPayload,
  refMatches,
  SkipRequest,
  type TriggerMetadata,
} from '../../../registry/model/trigger_metadata.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/triggers', `${name}.json`), 'utf8'));

describe('GitHub push payloads', () => {
  test('a push becomes the metadata Quay derives (user links are left out without an API lookup)', () => {
    expect(githubMetadata(fixture('github_push'))).toEqual({
      commit: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
      ref: 'refs/heads/main',
      default_branch: 'main',
      git_url: 'git@github.com:octo-org/hello-world.git',
      commit_info: {
        url: 'https://github.com/octo-org/hello-world/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
        message: 'Update Dockerfile',
        date: '2024-03-04T10:15:27-05:00',
        author: { username: 'monalisa' },
        committer: { username: 'web-flow' },
      },
    });
  });

  test('with a user lookup, author and committer links are filled', () => {
    const m = githubMetadata(fixture('github_push'), { lookupUser: (u) => ({ html_url: `https://github.com/${u}`, avatar_url: `https://avatars.example/${u}` }) });
    expect((m.commit_info as any).author).toEqual({ username: 'monalisa', url: 'https://github.com/monalisa', avatar_url: 'https://avatars.example/monalisa' });
  });

  test('a deleted branch (no head commit) is skipped; a body without ref is invalid', () => {
    expect(() => githubMetadata(fixture('github_delete'))).toThrow(SkipRequest);
    expect(() => githubMetadata({ head_commit: null, repository: { ssh_url: 'x' } })).toThrow(InvalidPayload);
  });
});

describe('GitLab push payloads', () => {
  test('the checkout commit (not the first one listed) supplies commit_info; the project default branch stands in for the API', () => {
    const p = fixture('gitlab_push') as { project: { default_branch: string } };
    expect(gitlabMetadata(p, { defaultBranch: p.project.default_branch })).toEqual({
      commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      ref: 'refs/heads/release/2.x',
      default_branch: 'main',
      git_url: 'git@example.com:mike/diaspora.git',
      commit_info: {
        url: 'http://example.com/mike/diaspora/commit/da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
        message: 'fixed readme',
        date: '2012-01-03T23:36:29+02:00',
      },
    });
  });

  test('without lookups there is no default branch and no author (as Quay without API access)', () => {
    const m = gitlabMetadata(fixture('gitlab_push'));
    expect(m.default_branch).toBeUndefined();
    expect((m.commit_info as any).author).toBeUndefined();
  });

  test('skips: a tag whose commit is not in the payload, a deleted branch, other event kinds', () => {
    expect(() => gitlabMetadata(fixture('gitlab_tag_push'))).toThrow(SkipRequest);
    expect(() => gitlabMetadata(fixture('gitlab_branch_deleted'))).toThrow(SkipRequest);
    expect(() => gitlabMetadata(fixture('gitlab_merge_request'))).toThrow(SkipRequest);
  });

  test('a tag push whose commit a lookup finds builds the tag', () => {
    const m = gitlabMetadata(fixture('gitlab_tag_push'), {
      lookupCommit: (_p, sha) => ({ id: sha, message: 'Fix link\n', timestamp: '2015-08-13T19:33:18+00:00', url: 'https://some/url' }),
    });
    expect(m).toMatchObject({ commit: '82b3d5ae55f7080f1e6022629cdb57bfae7cccc7', ref: 'refs/tags/v1.0.0', commit_info: { message: 'Fix link\n', url: 'https://some/url' } });
  });
});

describe('Bitbucket push payloads', () => {
  test('the last change becomes the metadata; the actor is the committer', () => {
    expect(bitbucketMetadata(fixture('bitbucket_push'))).toEqual({
      commit: '709d658dc5b6d6afcd46049c2f332ee3f515a67d',
      ref: 'refs/heads/main',
      git_url: 'git@bitbucket.org:teamsinspace/docker-app.git',
      commit_info: {
        url: 'https://bitbucket.org/teamsinspace/docker-app/commits/709d658dc5b6d6afcd46049c2f332ee3f515a67d',
        message: 'Add a healthcheck [build skip]\n',
        date: '2024-02-11T16:59:17+00:00',
        author: { username: 'Emma Smith', avatar_url: 'https://avatar-management.example/emma.png' },
        committer: { username: 'Emma Smith', avatar_url: 'https://avatar-management.example/emma.png' },
      },
    });
  });

  test('a tag push has a tags ref and an empty commit url; a deleted ref is skipped', () => {
    expect(bitbucketMetadata(fixture('bitbucket_tag'))).toEqual({
      commit: '709d658dc5b6d6afcd46049c2f332ee3f515a67d',
      ref: 'refs/tags/v2.1.0',
      git_url: 'git@bitbucket.org:teamsinspace/docker-app.git',
      commit_info: {
        url: '',
        message: 'Release 2.1.0',
        date: '2024-02-12T08:00:00+00:00',
        committer: { username: 'CI Robot', avatar_url: 'https://avatar-management.example/ci.png' },
      },
    });
    expect(() => bitbucketMetadata(fixture('bitbucket_deleted'))).toThrow(SkipRequest);
  });
});

describe('custom git payloads', () => {
  test('the custom payload is kept (known keys only) and git_url is the trigger build source', () => {
    expect(customGitMetadata(fixture('custom_git'), 'ssh://git@git.example.com/app.git')).toEqual({
      commit: '1c002dd1d8b1e2a1c0ffee0123456789abcdef01',
      ref: 'refs/heads/master',
      default_branch: 'master',
      git_url: 'ssh://git@git.example.com/app.git',
      commit_info: {
        url: 'https://git.example.com/app/commit/1c002dd',
        message: 'initial commit',
        date: '2024-01-05T10:00:00Z',
        author: { username: 'user', url: 'https://git.example.com/user', avatar_url: 'https://git.example.com/user.png' },
        committer: { username: 'user', url: 'https://git.example.com/user', avatar_url: 'https://git.example.com/user.png' },
      },
    });
  });

  test('GitHub-, Bitbucket- and GitLab-shaped bodies are converted, with the trigger git_url', () => {
    expect(customGitMetadata(fixture('github_push'), 'src')).toMatchObject({ commit: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c', ref: 'refs/heads/main', git_url: 'src' });
    expect(customGitMetadata(fixture('bitbucket_push'), 'src')).toMatchObject({ commit: '709d658dc5b6d6afcd46049c2f332ee3f515a67d', git_url: 'src' });
    expect(customGitMetadata(fixture('gitlab_push'), 'src')).toMatchObject({ commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', git_url: 'src' });
    expect(() => customGitMetadata(fixture('github_delete'), 'src')).toThrow(SkipRequest);
  });

  test.each([
    ['no commit', { ref: 'refs/heads/x', default_branch: 'x' }],
    ['short commit', { commit: 'abc12', ref: 'refs/heads/x', default_branch: 'x' }],
    ['non-hex commit', { commit: 'zzzzzzz', ref: 'refs/heads/x', default_branch: 'x' }],
    ['bad ref', { commit: 'abcdef1', ref: 'heads/x', default_branch: 'x' }],
    ['no default branch', { commit: 'abcdef1', ref: 'refs/heads/x' }],
    ['commit_info without date', { commit: 'abcdef1', ref: 'refs/heads/x', default_branch: 'x', commit_info: { url: 'u', message: 'm' } }],
    [
      'author without avatar',
      { commit: 'abcdef1', ref: 'refs/heads/x', default_branch: 'x', commit_info: { url: 'u', message: 'm', date: 'd', author: { username: 'a', url: 'u' } } },
    ],
    ['a list', [1, 2]],
    ['a string', 'commit'],
  ])('invalid custom payload: %s', (_name, body) => {
    expect(() => customGitMetadata(body, 'src')).toThrow(InvalidPayload);
  });

  test('every metadata needs commit and git_url', () => {
    expect(() => checkedMetadata({ commit: 'abc' })).toThrow(InvalidPayload);
    expect(checkedMetadata({ commit: 'abc', git_url: 'g' })).toEqual({ commit: 'abc', git_url: 'g' });
  });
});

describe('webhook filters', () => {
  const meta = (ref: string, message = 'msg'): TriggerMetadata => ({ commit: 'abcdef1234', git_url: 'g', ref, commit_info: { message } });

  test('branchtag_regex must match the whole ref without refs/', () => {
    expect(refMatches('refs/heads/main', 'heads/main')).toBe(true);
    expect(refMatches('refs/heads/main2', 'heads/main')).toBe(false);
    expect(refMatches('refs/tags/v1.2', 'tags/v.*')).toBe(true);
    expect(refMatches('refs/heads/v1.2', 'tags/v.*')).toBe(false);
    expect(refMatches('refs/heads/feature/x', 'heads/feature/.+')).toBe(true);
    // A regex that does not compile matches everything (Quay).
    expect(refMatches('refs/heads/anything', 'heads/(')).toBe(true);
    expect(refMatches(undefined, '.*')).toBe(false);
  });

  test('[skip build] and [build skip] skip; a non-matching ref skips; others pass', () => {
    expect(() => checkNotSkipped(meta('refs/heads/main', 'Fix [skip build]'), {})).toThrow(SkipRequest);
    expect(() => checkNotSkipped(meta('refs/heads/main', 'x\n[build skip]'), {})).toThrow(SkipRequest);
    expect(() => checkNotSkipped(meta('refs/heads/dev'), { branchtag_regex: 'heads/main' })).toThrow(SkipRequest);
    expect(() => checkNotSkipped(meta('refs/heads/main', 'skip build'), { branchtag_regex: 'heads/main' })).not.toThrow();
  });
});

describe('tag naming', () => {
  const base = { commit: 'hellothereiamacommit', git_url: 'g' };
  const onDefault: TriggerMetadata = {
    ...base,
    ref: 'refs/heads/somebranch',
    default_branch: 'somebranch',
    commit_info: { url: 'u', date: '2024-01-05', message: 'm', author: { username: 'someguy', url: 'u', avatar_url: 'a' } },
  };

  test.each<[string, TriggerMetadata, Record<string, unknown>, string[]]>([
    ['commit only: the short sha', base, {}, ['helloth']],
    ['a branch: its name', { ...base, ref: 'refs/heads/somebranch' }, {}, ['somebranch']],
    ['a branch without default_tag_from_ref: the short sha', { ...base, ref: 'refs/heads/somebranch' }, { default_tag_from_ref: false }, ['helloth']],
    ['the default branch: its name and latest', { ...base, ref: 'refs/heads/main', default_branch: 'main' }, {}, ['latest', 'main']],
    ['latest_for_default_branch off', { ...base, ref: 'refs/heads/main', default_branch: 'main' }, { latest_for_default_branch: false }, ['main']],
    ['a tag ref: the tag name', { ...base, ref: 'refs/tags/v1.2.3', default_branch: 'main' }, {}, ['v1.2.3']],
    ['slashes in branch names are sanitized', { ...base, ref: 'refs/heads/feature/x' }, {}, ['feature_x']],
    [
      'everything enabled on the default branch (Quay)',
      onDefault,
      { tag_templates: ['${commit_info.short_sha}', 'author-${commit_info.author.username}'], default_tag_from_ref: true, latest_for_default_branch: true },
      ['author-someguy', 'helloth', 'latest', 'somebranch'],
    ],
    [
      'parsed_ref.branch and commit_info.date templates',
      onDefault,
      { tag_templates: ['${parsed_ref.branch}-${commit_info.date}'], default_tag_from_ref: false, latest_for_default_branch: false },
      ['somebranch-2024-01-05'],
    ],
    [
      'a template naming a missing value is dropped',
      onDefault,
      { tag_templates: ['${parsed_ref.tag}', 'x-${commit_info.committer.username}'], default_tag_from_ref: false, latest_for_default_branch: false },
      ['helloth'],
    ],
    ['parsed_ref.tag on a tag ref', { ...base, ref: 'refs/tags/v2' }, { tag_templates: ['release-${parsed_ref.tag}'], default_tag_from_ref: false }, ['release-v2']],
    ['${commit} and ${ref} (sanitized)', { ...base, ref: 'refs/heads/b' }, { tag_templates: ['${ref}'], default_tag_from_ref: false }, ['refs_heads_b']],
    ['a template that does not parse is skipped', { ...base, ref: 'refs/heads/b' }, { tag_templates: ['${[[[}'], default_tag_from_ref: false }, ['helloth']],
    [
      'a template expanding to a bad first character is sanitized',
      { ...base, ref: 'refs/heads/b' },
      { tag_templates: ['.${commit_info.short_sha}'], default_tag_from_ref: false },
      ['_helloth'],
    ],
  ])('%s', (_name, metadata, config, expected) => {
    expect(determineTags(metadata, config)).toEqual(expected);
  });

  test('tags are at most 127 characters', () => {
    const [tag] = determineTags({ ...base, ref: `refs/heads/${'b'.repeat(300)}` }, {});
    expect(tag).toHaveLength(127);
  });
});
