import { signRequest } from '../providers/shared/sigv4.js';
import { verifySigV4, type AwsKey, type SignedRequest } from './bedrock-sigv4.js';

const KEY: AwsKey = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const NOW = Date.UTC(2015, 7, 30, 12, 36, 0);

const options = (keys: AwsKey[], now = NOW) => ({
  lookup: (id: string) => keys.find((k) => k.accessKeyId === id),
  now,
  service: 'bedrock',
  region: 'us-east-1',
});

async function signed(key: AwsKey, body = '{"a":1}'): Promise<SignedRequest> {
  const url = 'http://127.0.0.1:8080/model/anthropic.claude-v2%3A1/converse?x=a%20b&a=1';
  const { headers } = await signRequest(
    { url, method: 'POST', headers: { 'content-type': 'application/json' }, body },
    { credentials: key, region: 'us-east-1', service: 'bedrock', now: new Date(NOW) },
  );
  return {
    method: 'POST',
    target: '/model/anthropic.claude-v2%3A1/converse?x=a%20b&a=1',
    headers: { ...headers, host: '127.0.0.1:8080' },
    body: Buffer.from(body),
  };
}

describe('the simulator checks SigV4 like AWS', () => {
  test('the AWS test suite get-vanilla request verifies', () => {
    const verdict = verifySigV4(
      {
        method: 'GET',
        target: '/',
        headers: {
          host: 'example.amazonaws.com',
          'x-amz-date': '20150830T123600Z',
          authorization:
            'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
        },
        body: Buffer.alloc(0),
      },
      { ...options([KEY]), service: 'service' },
    );
    expect(verdict).toEqual({ ok: true, accessKeyId: 'AKIDEXAMPLE' });
  });

  test("the proxy's signature verifies, with a session token too", async () => {
    expect(verifySigV4(await signed(KEY), options([KEY])).ok).toBe(true);
    const session = { ...KEY, sessionToken: 'tok', expiresAtMs: NOW + 60_000 };
    expect(verifySigV4(await signed(session), options([session])).ok).toBe(true);
  });

  test('a wrong secret, a changed body or header fail with the AWS message', async () => {
    const wrong = await signed({ ...KEY, secretAccessKey: 'nope' });
    expect(verifySigV4(wrong, options([KEY]))).toMatchObject({
      ok: false,
      status: 403,
      type: 'InvalidSignatureException',
      message: expect.stringContaining('The request signature we calculated does not match'),
    });
    const request = await signed(KEY);
    expect(verifySigV4({ ...request, body: Buffer.from('{"a":2}') }, options([KEY])).ok).toBe(
      false,
    );
    expect(
      verifySigV4(
        { ...request, headers: { ...request.headers, host: 'evil:8080' } },
        options([KEY]),
      ).ok,
    ).toBe(false);
    expect(verifySigV4({ ...request, target: '/model/other/converse' }, options([KEY])).ok).toBe(
      false,
    );
  });

  test('unknown keys, expired or missing session tokens, skew and scope', async () => {
    const request = await signed(KEY);
    expect(verifySigV4(request, options([]))).toMatchObject({
      type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    });
    const session = { ...KEY, sessionToken: 'tok', expiresAtMs: NOW + 1000 };
    expect(verifySigV4(await signed(session), options([session], NOW + 2000))).toMatchObject({
      type: 'ExpiredTokenException',
    });
    expect(verifySigV4(request, options([session]))).toMatchObject({
      type: 'UnrecognizedClientException',
    });
    expect(verifySigV4(request, options([KEY], NOW + 6 * 60_000))).toMatchObject({
      message:
        'Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T124200Z - 5 min.)',
    });
    expect(verifySigV4(request, { ...options([KEY]), region: 'eu-west-1' })).toMatchObject({
      message: 'Credential should be scoped to a valid region. ',
    });
    expect(verifySigV4({ ...request, headers: { host: 'x' } }, options([KEY]))).toMatchObject({
      status: 403,
      message: 'Missing Authentication Token',
    });
  });
});
