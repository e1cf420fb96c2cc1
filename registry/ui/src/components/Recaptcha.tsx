/**
 * The reCAPTCHA checkbox (FEATURE_RECAPTCHA, site key RECAPTCHA_SITE_KEY from GET /config). Google's
 * api.js is loaded only when a form needs it (the server's CSP admits Google's origins only with the
 * feature on) and rendered explicitly, since the CSP allows no inline callback. `onChange` gets the
 * answer token, or '' when it expires; the form sends it as `recaptcha_response`.
 */
import { useEffect, useRef, useState } from 'react';
import { Alert, FormGroup } from '@patternfly/react-core';

const SCRIPT = 'https://www.google.com/recaptcha/api.js?render=explicit';

interface Grecaptcha {
  ready(cb: () => void): void;
  render(el: HTMLElement, params: { sitekey: string; callback: (token: string) => void; 'expired-callback': () => void; 'error-callback': () => void }): number;
}

declare global {
  interface Window {
    grecaptcha?: Grecaptcha;
  }
}

let loading: Promise<Grecaptcha> | null = null;

function loadScript(): Promise<Grecaptcha> {
  loading ??= new Promise<Grecaptcha>((resolve, reject) => {
    const script = document.createElement('script');
    script.src = SCRIPT;
    script.async = true;
    script.onload = () => (window.grecaptcha ? window.grecaptcha.ready(() => resolve(window.grecaptcha!)) : reject(new Error('no grecaptcha')));
    script.onerror = () => {
      loading = null;
      reject(new Error('reCAPTCHA could not be loaded'));
    };
    document.head.appendChild(script);
  });
  return loading;
}

export default function Recaptcha({ siteKey, onChange }: { siteKey: string; onChange: (token: string) => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    loadScript()
      .then((g) => {
        if (!live || !ref.current || ref.current.childElementCount > 0) return;
        g.render(ref.current, { sitekey: siteKey, callback: onChange, 'expired-callback': () => onChange(''), 'error-callback': () => onChange('') });
      })
      .catch(() => live && setFailed(true));
    return () => {
      live = false;
    };
    // Rendered once per mount: the callback of that render stays (the parent remounts to reset it).
  }, [siteKey]);
  return (
    <FormGroup label="Verification" fieldId="recaptcha" isRequired>
      {failed ? (
        <Alert variant="danger" isInline title="The reCAPTCHA challenge could not be loaded; check your connection and reload the page." />
      ) : (
        <div id="recaptcha" ref={ref} data-testid="recaptcha" />
      )}
    </FormGroup>
  );
}
