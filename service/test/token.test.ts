import { createHmac } from 'node:crypto';
import t from 'tap';
import { Tokens, tokenFrom } from '../src/auth/token.js';

const secret = Buffer.from('a'.repeat(32));
const other = Buffer.from('b'.repeat(32));

t.test('mint and verify', async (t) => {
  const tokens = new Tokens([secret], 3600);
  const { token, session } = tokens.mint();
  t.same(tokens.verify(token), session);
  t.match(token, /^[A-Za-z0-9_-]+\.\d+\.[A-Za-z0-9_-]{43}$/);
});

t.test('the documented format can be minted by anyone with the secret (as k6 does)', async (t) => {
  const exp = Math.floor(Date.now() / 1000) + 60;
  const sig = createHmac('sha256', secret).update(`user42.${exp}`).digest('base64url');
  t.equal(new Tokens([secret], 60).verify(`user42.${exp}.${sig}`)?.userId, 'user42');
});

t.test('forged, tampered, expired, other-secret and truncated tokens are refused', async (t) => {
  const tokens = new Tokens([secret], 3600);
  const { token } = tokens.mint('alice');
  const [u, e, s] = token.split('.');
  t.equal(tokens.verify(`bob.${e}.${s}`), null, 'other user');
  t.equal(tokens.verify(`${u}.${Number(e) + 1}.${s}`), null, 'extended expiry');
  for (let i = 0; i < s.length; i += 7) {
    const flipped = s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    t.equal(tokens.verify(`${u}.${e}.${flipped}`), null, `signature char ${i} changed`);
  }
  t.equal(tokens.verify(token.slice(0, -5)), null, 'truncated');
  t.equal(tokens.verify(`${u}.${e}`), null, 'no signature');
  t.equal(tokens.verify(''), null);
  t.equal(tokens.verify(undefined), null);
  t.equal(new Tokens([other], 3600).verify(token), null, 'other secret');
  const old = tokens.mint('carol', Date.now() - 7200_000).token;
  t.equal(tokens.verify(old), null, 'expired');
});

t.test('rotation: the previous secret still verifies, new tokens use the current one', async (t) => {
  const before = new Tokens([other], 3600).mint('dave').token;
  const rotated = new Tokens([secret, other], 3600);
  t.equal(rotated.verify(before)?.userId, 'dave');
  const fresh = rotated.mint('erin').token;
  t.equal(new Tokens([secret], 3600).verify(fresh)?.userId, 'erin');
});

t.test('token from header or cookie', async (t) => {
  t.equal(tokenFrom('Bearer abc', ''), 'abc');
  t.equal(tokenFrom('', 'x=1; tessera_session=tok; y=2'), 'tok');
  t.equal(tokenFrom('Basic zzz', 'tessera_session=tok'), 'tok');
  t.equal(tokenFrom('', 'other=1'), undefined);
});
