/** The superusers' global messages as banners above every page (Markdown without raw HTML). */
import { Banner } from '@patternfly/react-core';
import Markdown from '../components/Markdown';

export interface GlobalMessage {
  uuid: string;
  content: string;
  media_type: 'text/plain' | 'text/markdown';
  severity: 'info' | 'warning' | 'error';
}

const STATUS = { info: 'info', warning: 'warning', error: 'danger' } as const;

export default function GlobalMessages({ messages }: { messages: GlobalMessage[] }) {
  return (
    <>
      {messages.map((m) => (
        <Banner key={m.uuid} status={STATUS[m.severity] ?? 'info'} screenReaderText={`${m.severity} message`} data-testid="global-message">
          {m.media_type === 'text/markdown' ? <Markdown source={m.content} /> : m.content}
        </Banner>
      ))}
    </>
  );
}
