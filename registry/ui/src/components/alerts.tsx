/** Toast alerts for the outcome of actions (success and API errors). */
import { createContext, useCallback, useContext, useState, type ReactNode } from 'react';
import { Alert, AlertActionCloseButton, AlertGroup } from '@patternfly/react-core';

type Variant = 'success' | 'danger' | 'warning' | 'info';
interface Toast {
  id: number;
  variant: Variant;
  title: string;
}

const Ctx = createContext<(variant: Variant, title: string) => void>(() => undefined);
let nextId = 1;

export function AlertsProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const add = useCallback((variant: Variant, title: string) => {
    const id = nextId++;
    setToasts((t) => [...t, { id, variant, title }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), 8000);
  }, []);
  return (
    <Ctx.Provider value={add}>
      {children}
      <AlertGroup isToast isLiveRegion>
        {toasts.map((t) => (
          <Alert key={t.id} variant={t.variant} title={t.title} actionClose={<AlertActionCloseButton onClose={() => setToasts((all) => all.filter((x) => x.id !== t.id))} />} />
        ))}
      </AlertGroup>
    </Ctx.Provider>
  );
}

export function useAlert() {
  return useContext(Ctx);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
