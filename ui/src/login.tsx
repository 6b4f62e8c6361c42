import { useState } from 'preact/hooks';
import { call, errorText, setToken } from './api.ts';

export interface Session {
  displayName: string;
  policies: string[];
  accessor: string;
}

/** Log in with a token, or through AppRole (role ID and secret ID); the token is kept in memory only. */
export function Login(props: { onLogin: (s: Session) => void }) {
  const [method, setMethod] = useState<'token' | 'approle'>('token');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError('');
    try {
      let token = String(form.get('token') ?? '').trim();
      if (method === 'approle') {
        const mount = String(form.get('mount') ?? 'approle').trim().replace(/^\/+|\/+$/g, '') || 'approle';
        const r = await call('POST', `auth/${mount}/login`, { auth: false, body: { role_id: String(form.get('role_id') ?? ''), secret_id: String(form.get('secret_id') ?? '') } });
        const auth = (r.body as { auth?: { client_token?: string } }).auth;
        token = auth?.client_token ?? '';
      }
      if (token === '') throw new Error('enter a token');
      setToken(token);
      const self = await call<{ display_name: string; policies: string[]; accessor: string }>('GET', 'auth/token/lookup-self');
      props.onLogin({ displayName: self.data.display_name, policies: self.data.policies, accessor: self.data.accessor });
    } catch (err) {
      setToken(null);
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <h1>sealbox console</h1>
      <form onSubmit={submit} aria-describedby="login-help">
        <fieldset>
          <legend>Log in with</legend>
          <label>
            <input type="radio" name="method" value="token" checked={method === 'token'} onChange={() => setMethod('token')} /> Token
          </label>
          <label>
            <input type="radio" name="method" value="approle" checked={method === 'approle'} onChange={() => setMethod('approle')} /> AppRole
          </label>
        </fieldset>
        {method === 'token' ? (
          <p>
            <label for="login-token">Token</label>
            <input id="login-token" name="token" type="password" autocomplete="off" required />
          </p>
        ) : (
          <>
            <p>
              <label for="login-mount">AppRole mount</label>
              <input id="login-mount" name="mount" defaultValue="approle" />
            </p>
            <p>
              <label for="login-role">Role ID</label>
              <input id="login-role" name="role_id" autocomplete="off" required />
            </p>
            <p>
              <label for="login-secret">Secret ID</label>
              <input id="login-secret" name="secret_id" type="password" autocomplete="off" required />
            </p>
          </>
        )}
        <p id="login-help" class="hint">
          The token stays in this tab's memory: reloading the page logs you out.
        </p>
        <button type="submit" disabled={busy}>
          Log in
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
