// No header can stall the proxy: header regexes are RE2, matched in linear
// time. Before, `([a-z0-9]+-?)+` against a 32-byte header blocked the proxy
// 9 s and `(a+)+` 38 s, /healthz included.
import { route, startDataPlane, type DataPlane } from '../support/data-plane.js';
import { expectResponsive, whileProbing } from '../support/probe.js';

describe('header regexes', () => {
  const CATASTROPHIC = ['(a+)+', '([a-z0-9]+-?)+', '(x+x+)+y', '(a|a)*b'];
  let dp: DataPlane;
  beforeAll(async () => {
    dp = await startDataPlane(
      [{ name: 'special' }, { name: 'rest' }],
      [
        route('chat', {
          rules: [
            {
              name: 'special',
              matches: CATASTROPHIC.map((value, i) => ({
                headers: [{ name: `x-h${i}`, type: 'RegularExpression' as const, value }],
              })),
              backendRefs: [{ name: 'special' }],
            },
            {
              name: 'team',
              matches: [
                {
                  headers: [
                    { name: 'x-team', type: 'RegularExpression', value: 'team[[:digit:]]+' },
                  ],
                },
              ],
              backendRefs: [{ name: 'special' }],
            },
            { name: 'rest', backendRefs: [{ name: 'rest' }] },
          ],
        }),
      ],
    );
  });
  afterAll(() => dp.close());

  async function ask(headers: Record<string, string>) {
    const { response } = await dp.client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { headers })
      .withResponse();
    return response.headers.get('x-modelroute-backend');
  }

  test.each([
    ['32 bytes', 31],
    ['a max-length header', 15 * 1024],
  ])('catastrophic patterns against %s do not stall the proxy', async (_name, length) => {
    const value = `${'a'.repeat(length)}!`;
    // One pattern per request: Node allows 16 KiB of headers in all.
    const { result, probeMs } = await whileProbing(dp.proxy.adminUrl, () =>
      Promise.all(CATASTROPHIC.map((_, i) => ask({ [`x-h${i}`]: value }))),
    );
    expect(result).toEqual(CATASTROPHIC.map(() => 'default/rest'));
    expectResponsive(probeMs);
  });

  test('RE2 syntax matches in the proxy: team[[:digit:]]+ matches team42', async () => {
    expect(await ask({ 'x-team': 'team42' })).toBe('default/special');
    expect(await ask({ 'x-team': 'team' })).toBe('default/rest');
    expect(await ask({ 'x-h0': 'aaaa' })).toBe('default/special');
  });
});
