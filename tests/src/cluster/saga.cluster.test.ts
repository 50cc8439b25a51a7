import { waitFor } from '@jetsaga/devstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeCount, expectProblem, PROBLEM_CASES, type ProblemFixture, problemFixture, quietChangeCount } from '../support/problems.js';
import { sagaChecks } from '../support/saga-checks.js';
import { HOME, shippingApi } from '../support/shipping.js';
import { type ClusterUnderTest, clusterUnderTest } from './cluster.js';
import { forwardsReachable } from './settled.js';

// The end-to-end suite of tests/src (same client, same checks) against the release in the cluster, through
// `kubectl port-forward` to the gateway: pods, Services, cluster DNS, NATS routes and NetworkPolicies in the path.
const cluster: ClusterUnderTest = clusterUnderTest();
const { api } = cluster;
const checks = sagaChecks(api);

beforeAll(async () => {
  // The upgrade before this suite may have rolled the pods the port-forwards stuck to.
  await forwardsReachable(cluster);
});

afterAll(async () => {
  await cluster.close();
});

describe('the order saga through the cluster', () => {
  it('completes: stock committed, customer debited', () => checks.completed());

  it('is cancelled OUT_OF_STOCK when a line is short, reserving and charging nothing', () => checks.outOfStock());

  it('is cancelled PAYMENT_REFUSED and the reservation is released', () => checks.paymentRefused());

  it('sells exactly the stock under contention: 40 checkouts of 1 unit against 10', () => checks.stockRace(40, 10));

  it('checks out one cart once under 12 simultaneous checkouts', () => checks.cartRace(12));

  it('opens one parcel for a completed order, to the customer address, dispatched then delivered', async () => {
    const shipping = shippingApi(api);
    const customer = await shipping.customer(10_000);
    const product = await api.product(3, 700);
    const orderId = await shipping.buy(customer.id, product.id, 1);
    expect((await api.terminal(orderId)).status).toBe('COMPLETED');
    const parcel = await shipping.of(orderId, 60_000);
    expect(parcel).toMatchObject({ status: 'CREATED', address: HOME });
    expect((await shipping.dispatch(parcel.id)).body).toMatchObject({ status: 'DISPATCHED' });
    expect((await shipping.deliver(parcel.id)).body).toMatchObject({ status: 'DELIVERED' });
    expect((await shipping.list(`orderId=${orderId}`)).shipments).toHaveLength(1);
  });

  it('refunds a lost parcel through support and payment: the complaint opens by itself, the balance comes back', async () => {
    const shipping = shippingApi(api);
    const customer = await shipping.customer(10_000);
    const product = await api.product(3, 1_200);
    const orderId = await shipping.buy(customer.id, product.id, 2);
    expect((await api.terminal(orderId)).status).toBe('COMPLETED');
    const paid = (await api.getCustomer(customer.id)).balanceCents;
    const parcel = await shipping.of(orderId, 60_000);
    expect((await shipping.dispatch(parcel.id)).body).toMatchObject({ status: 'DISPATCHED' });
    const reported = await shipping.report(parcel.id, 'LOST');
    expect(reported.status).toBe(201);
    const { incidentId } = reported.body;
    const complaint = await waitFor(
      `the complaint the lost parcel ${parcel.id} opens`,
      async () => {
        const { body } = await api.call<{ complaints: Array<{ id: string; shipmentId?: string; automatic: boolean }> }>(
          'GET',
          `/api/complaints?orderId=${orderId}`,
        );
        return body.complaints?.find((c) => c.shipmentId === parcel.id && c.automatic);
      },
      60_000,
      250,
    );
    expect((await shipping.resolve(parcel.id, incidentId, 'REFUND')).status).toBe(200);
    const refunded = await shipping.until(parcel.id, 'REFUNDED', (s) => s.status === 'REFUNDED', 60_000);
    const refund = refunded.incidents.find((incident) => incident.incidentId === incidentId)?.refund;
    expect(refund).toMatchObject({ status: 'REFUNDED', amountCents: 2 * 1_200 });
    expect((await api.getCustomer(customer.id)).balanceCents).toBe(paid + 2 * 1_200);
    expect(complaint.id).toEqual(expect.any(String));
  });

  it('mirrors every event of the stream into Postgres (the event store verifies by sequence)', async () => {
    const verification = await waitFor(
      'the mirror to verify',
      async () => {
        const response = await api.call('GET', '/api/event-store/verify');
        return response.status === 200 && response.body.ok ? response.body : undefined;
      },
      60_000,
      500,
    );
    expect(verification).toMatchObject({ ok: true, missing: [], extra: [] });
    expect(verification.stream.count).toBeGreaterThan(0);
  });
});

describe('bad input gets problem+json through the cluster and changes nothing', () => {
  let fixture: ProblemFixture;

  beforeAll(async () => {
    fixture = await problemFixture(api);
  });

  it.each(PROBLEM_CASES)('%s', async (_name, request, status, field) => {
    // Quiet first: the refund above still sets off a notification and its audit entry after its own checks pass.
    const before = await quietChangeCount({ nc: await cluster.nats(), sql: cluster.sql() });
    expectProblem(await request(api, fixture), status, field);
    expect(await changeCount(cluster.sql())).toBe(before);
  });
});
