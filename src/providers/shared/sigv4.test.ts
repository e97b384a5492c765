import { signRequest } from './sigv4.js';

// The AWS SigV4 test suite's example credentials and time.
const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const now = new Date(Date.UTC(2015, 7, 30, 12, 36, 0));

describe('SigV4 signing', () => {
  test('matches the AWS test suite (get-vanilla)', async () => {
    const { headers } = await signRequest(
      { url: 'https://example.amazonaws.com/', method: 'GET', headers: {} },
      { credentials, region: 'us-east-1', service: 'service', now },
    );
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
    expect(headers.host).toBeUndefined();
  });

  test('matches the AWS test suite (post-vanilla)', async () => {
    const { headers } = await signRequest(
      { url: 'https://example.amazonaws.com/', method: 'POST', headers: {}, body: '' },
      { credentials, region: 'us-east-1', service: 'service', now },
    );
    expect(headers.authorization).toContain(
      'Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b',
    );
  });

  test('temporary credentials add and sign x-amz-security-token', async () => {
    const { headers } = await signRequest(
      {
        url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/a.b%3A0/converse',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      },
      {
        credentials: { ...credentials, sessionToken: 'session' },
        region: 'us-east-1',
        service: 'bedrock',
        now,
      },
    );
    expect(headers['x-amz-security-token']).toBe('session');
    expect(headers.authorization).toMatch(
      /Credential=AKIDEXAMPLE\/20150830\/us-east-1\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
  });
});

test('a corrected secret for the same access key id signs with the new secret', async () => {
  const request = {
    url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse',
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body: '{}',
  };
  const sign = (secretAccessKey: string) =>
    signRequest(request, {
      credentials: { accessKeyId: 'AKIAROTATED', secretAccessKey },
      region: 'us-east-1',
      service: 'bedrock',
      now: new Date(Date.UTC(2026, 11, 5)),
    });
  const wrong = await sign('wrong');
  const right = await sign('right');
  expect(right.headers.authorization).not.toBe(wrong.headers.authorization);
  expect((await sign('right')).headers.authorization).toBe(right.headers.authorization);
});
