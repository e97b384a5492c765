import { apiReferenceMarkdown } from './api-reference.js';
import { modelBackendCRD, modelRouteCRD } from './crd.js';

const doc = apiReferenceMarkdown([modelRouteCRD(), modelBackendCRD()]);

describe('the API reference', () => {
  test('has a section per kind, for spec and status', () => {
    for (const heading of [
      '## ModelRoute',
      '### ModelRoute.spec',
      '### ModelRoute.status',
      '## ModelBackend',
      '### ModelBackend.spec',
      '### ModelBackend.status',
    ])
      expect(doc).toContain(`\n${heading}\n`);
  });

  test('a field row carries type, required, default, constraints and description', () => {
    expect(doc).toMatch(
      /\| `rules\[\]\.backendRefs\[\]\.weight` \| integer \| {2}\| `1` \| ≥ 0; ≤ 1000000 \| Relative share of traffic/,
    );
    expect(doc).toMatch(/\| `model` \| string \| yes \|/);
  });

  test('lists the printer columns and the CEL rules', () => {
    expect(doc).toContain('| Programmed | `.status.programmed` |');
    expect(doc).toContain('set exactly one of spec.endpoint or spec.serviceRef');
  });
});
