/**
 * Repository descriptions are Markdown written by users: rendered without raw HTML (react-markdown drops it
 * with skipHtml) and with its default URL filter, so `<script>` or `javascript:` links stay inert.
 */
import ReactMarkdown from 'react-markdown';
import remarkGfm from 'remark-gfm';
import { Content } from '@patternfly/react-core';

export default function Markdown({ source }: { source: string }) {
  return (
    <Content data-testid="markdown">
      <ReactMarkdown remarkPlugins={[remarkGfm]} skipHtml>
        {source}
      </ReactMarkdown>
    </Content>
  );
}
