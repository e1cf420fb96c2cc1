/** Paging over Quay's opaque `next_page` tokens: the stack of tokens seen so far gives "previous". */
import { useState } from 'react';
import { Button, Flex, FlexItem } from '@patternfly/react-core';
import { AngleLeftIcon, AngleRightIcon } from '@patternfly/react-icons';

export function useTokenPages() {
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  return {
    token: tokens[tokens.length - 1],
    page: tokens.length,
    next: (t: string) => setTokens((s) => [...s, t]),
    prev: () => setTokens((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setTokens([undefined]),
  };
}

export function Pager({ page, hasNext, onPrev, onNext, label }: { page: number; hasNext: boolean; onPrev: () => void; onNext: () => void; label: string }) {
  return (
    <Flex alignItems={{ default: 'alignItemsCenter' }} spaceItems={{ default: 'spaceItemsSm' }} aria-label={`${label} pagination`} role="navigation">
      <FlexItem>Page {page}</FlexItem>
      <FlexItem>
        <Button variant="plain" aria-label="Previous page" isDisabled={page <= 1} onClick={onPrev} icon={<AngleLeftIcon />} />
        <Button variant="plain" aria-label="Next page" isDisabled={!hasNext} onClick={onNext} icon={<AngleRightIcon />} />
      </FlexItem>
    </Flex>
  );
}
