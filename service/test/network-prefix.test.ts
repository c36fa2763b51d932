import t from 'tap';
import { networkPrefixes, prefixHash, prefixHashKey, UNKNOWN_NETWORK } from '../src/network-prefix.js';

t.test('IPv4: the address is the fine prefix, its /24 the coarse one', async (t) => {
  t.same(networkPrefixes('203.0.113.7'), { fine: '203.0.113.7/32', coarse: '203.0.113.0/24' });
  t.same(networkPrefixes(' 10.0.0.255 '), { fine: '10.0.0.255/32', coarse: '10.0.0.0/24' }, 'surrounding blanks ignored');
  t.equal(networkPrefixes('203.0.113.8').coarse, networkPrefixes('203.0.113.250').coarse, 'neighbours share /24');
  t.not(networkPrefixes('203.0.113.8').fine, networkPrefixes('203.0.113.9').fine);
});

t.test('IPv6: /64 fine, /48 coarse, whatever the spelling', async (t) => {
  const want = { fine: '2001:db8:1:2::/64', coarse: '2001:db8:1::/48' };
  for (const a of [
    '2001:db8:1:2::1',
    '2001:0DB8:0001:0002:0000:0000:0000:0001',
    '2001:db8:1:2:aaaa:bbbb:cccc:dddd',
    '[2001:db8:1:2::abcd]',
    '2001:db8:1:2::1%eth0',
    '2001:db8:1:2::9%25en0',
  ]) t.same(networkPrefixes(a), want, a);
  t.same(networkPrefixes('::1'), { fine: '::/64', coarse: '::/48' });
  t.same(networkPrefixes('fe80::1%eth0'), { fine: 'fe80::/64', coarse: 'fe80::/48' }, 'link-local with a zone id');
  t.same(networkPrefixes('2001:db8::'), { fine: '2001:db8::/64', coarse: '2001:db8::/48' });
  t.same(networkPrefixes('2001:0:0:5::1'), { fine: '2001:0:0:5::/64', coarse: '2001::/48' }, 'longest zero run compressed');
  t.same(networkPrefixes('1:2:3:4:5:6:7:8'), { fine: '1:2:3:4::/64', coarse: '1:2:3::/48' });
  t.same(networkPrefixes('2001:db8:1:2:3:4:1.2.3.4'), want, 'dotted tail');
  t.not(networkPrefixes('2001:db8:1:3::1').fine, want.fine, 'another /64 of the same /48');
  t.equal(networkPrefixes('2001:db8:1:3::1').coarse, want.coarse);
});

t.test('IPv4-mapped IPv6 counts as IPv4', async (t) => {
  const want = { fine: '203.0.113.7/32', coarse: '203.0.113.0/24' };
  t.same(networkPrefixes('::ffff:203.0.113.7'), want);
  t.same(networkPrefixes('::FFFF:cb00:7107'), want, 'hex spelling');
  t.same(networkPrefixes('0000:0000:0000:0000:0000:ffff:cb00:7107'), want, 'uWebSockets.js spelling');
  t.same(networkPrefixes('[::ffff:203.0.113.7]'), want);
  t.not(networkPrefixes('::fffe:203.0.113.7').fine, want.fine, 'only ::ffff:0:0/96 is mapped');
});

t.test('garbage lands in one shared bucket, never an exception', async (t) => {
  for (const a of ['', 'unknown', 'localhost', '1.2.3', '256.1.1.1', '1.2.3.4.5', '01.2.3.4', '::g', '1::2::3', ':::', '1:2:3:4:5:6:7:8:9', '[::1', 'x'.repeat(64), '2001:db8::/64', '%eth0']) {
    t.same(networkPrefixes(a), { fine: UNKNOWN_NETWORK, coarse: UNKNOWN_NETWORK }, JSON.stringify(a));
  }
  t.same(networkPrefixes(undefined as unknown as string), { fine: UNKNOWN_NETWORK, coarse: UNKNOWN_NETWORK }, 'not even a string');
});

t.test('prefixHash: keyed, stable, 22 base64url characters', async (t) => {
  const key = prefixHashKey('a-session-secret');
  const h = prefixHash('203.0.113.7/32', key);
  t.match(h, /^[A-Za-z0-9_-]{22}$/);
  t.equal(prefixHash('203.0.113.7/32', key), h, 'stable');
  t.not(prefixHash('203.0.113.8/32', key), h, 'differs by prefix');
  t.not(prefixHash('203.0.113.7/32', prefixHashKey('another-secret')), h, 'differs by key');
  t.equal(prefixHashKey('a-session-secret').length, 32);
});
