import { modelRoute } from '../api/v1alpha1/index.js';
import { invalidSpecEvent, pushFailedEvents } from './route-events.js';

const chat = modelRoute.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelRoute',
  metadata: { name: 'chat', namespace: 'team', uid: 'uid-chat' },
  spec: { model: 'chat', rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] },
});

test('a failed push is one Warning per route of the pod table, naming the pod and the cause', () => {
  const events = pushFailedEvents(
    { key: 'team/app-7d9' },
    { routes: [{ id: 'team/chat' }, { id: 'team/deleted-meanwhile' }] },
    'HTTP 401: bad token',
    (id) => (id === 'team/chat' ? chat : undefined),
  );
  expect(events).toEqual([
    {
      involved: {
        kind: 'ModelRoute',
        apiVersion: 'modelroute.io/v1alpha1',
        namespace: 'team',
        name: 'chat',
        uid: 'uid-chat',
      },
      type: 'Warning',
      reason: 'PushFailed',
      message: expect.stringContaining('proxy pod team/app-7d9') as string,
    },
  ]);
  expect(events[0]!.message).toMatch(/HTTP 401: bad token$/);
});

test('a refused spec is a Warning InvalidSpec with the schema message, on the object itself', () => {
  expect(
    invalidSpecEvent({
      kind: 'ModelRoute',
      namespace: 'team',
      name: 'chat',
      uid: 'uid-chat',
      message: 'spec.rules[0].backendRefs: at least one',
    }),
  ).toMatchObject({
    involved: { kind: 'ModelRoute', namespace: 'team', name: 'chat', uid: 'uid-chat' },
    type: 'Warning',
    reason: 'InvalidSpec',
    message: expect.stringContaining('spec.rules[0].backendRefs: at least one') as string,
  });
});
