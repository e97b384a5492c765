import { displayEndpoint, scrubUrls } from './endpoint-display.js';

test('endpoints are shown without userinfo, query or fragment', () => {
  expect(displayEndpoint('https://u:sk-1@api.example.com/v1?api-key=sk-1#x')).toBe(
    'https://api.example.com/v1',
  );
  expect(displayEndpoint('simulate://fast?latency=5ms')).toBe('simulate://fast');
  expect(displayEndpoint('http://svc.ns.svc:8000/v1')).toBe('http://svc.ns.svc:8000/v1');
});

test('URLs inside error text are shown the same way, the rest of the text kept', () => {
  expect(
    scrubUrls(
      'fetch failed: connect ECONNREFUSED for https://k:sk-2@h.example/v1/models?key=sk-2 now',
    ),
  ).toBe('fetch failed: connect ECONNREFUSED for https://h.example/v1/models now');
});
