// The reference OpenID provider of bench/run's phases O1 and O2: npm `oidc-provider`, configured
// as bench/src/idp_fixture.rs configures our server: one confidential client with the
// client_credentials grant (client_secret_basic), the same scopes, opaque access tokens of the
// same lifetime, introspection on, an ES256 signing key, the in-memory store.
//
//   node server.js PORT [CLIENT_ID CLIENT_SECRET SCOPES]
//
// Listens on 127.0.0.1:PORT and prints "listening" on stdout once it does.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const [port, clientId = 'bench-client', clientSecret = 'bench-secret', scopes = 'api:read api:write'] =
  process.argv.slice(2);
if (!port || !/^\d+$/.test(port)) {
  console.error('usage: node server.js PORT [CLIENT_ID CLIENT_SECRET SCOPES]');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}/oidc`;

// One ES256 key, made at start as our server makes its own when none is configured.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'bench-es256' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: scopes,
    },
  ],
  scopes: scopes.split(' '),
  jwks: { keys: [jwk] },
  cookies: { keys: ['bench-cookie-key-not-secret'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // The default policy, given explicitly: any authenticated confidential client may ask.
    introspection: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) =>
        !(client.clientAuthMethod === 'none' && token.clientId !== ctx.oidc.client.clientId),
    },
    revocation: { enabled: true },
    // No resource indicator in the requests: access tokens stay opaque, as ours are.
    resourceIndicators: { enabled: false },
  },
  ttl: {
    ClientCredentials: 3600,
    AccessToken: 3600,
  },
  // Our server's paths, so the load generator sends the same requests to both.
  routes: {
    token: '/token',
    introspection: '/introspect',
    revocation: '/revoke',
    jwks: '/jwks',
  },
});

// Mounted under /oidc as ours is; errors are answered, not logged (the run counts them).
const callback = provider.callback();
const server = createServer((req, res) => {
  if (req.url === '/ping') {
    res.writeHead(200, { 'content-length': '4' });
    res.end('pong');
    return;
  }
  if (req.url.startsWith('/oidc/')) {
    // As express mounts it: originalUrl keeps the prefix, so the URLs it writes keep it too.
    req.originalUrl = req.url;
    req.url = req.url.slice('/oidc'.length);
    callback(req, res);
    return;
  }
  res.writeHead(404, { 'content-length': '0' });
  res.end();
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), '127.0.0.1', () => {
  console.log('listening');
});
