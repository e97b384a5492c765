// `make image NODE_IMAGE=local`: builds the image on a Node base assembled
// here (Debian packages with mmdebstrap, Node and npm from their npm packages),
// for machines that cannot pull the official one; cached like the tests' image.
//   node --import tsx hack/image/build-local.ts [--tag REPOSITORY:TAG]
import { parseArgs } from 'node:util';
import { ensureImage, imageSize } from '../../test/image/build.js';

const { values } = parseArgs({ options: { tag: { type: 'string' } }, strict: true });
const started = Date.now();
const built = ensureImage({ tag: values.tag ?? 'modelroute:dev' });
const seconds = ((Date.now() - started) / 1000).toFixed(1);
process.stdout.write(
  `${built.ref}: ${(imageSize(built.ref) / 1e6).toFixed(0)} MB (podman image size), ready in ${seconds} s\n` +
    `docker-archive: ${built.archive}\n`,
);
