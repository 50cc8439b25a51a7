import { lazy, Suspense, type ReactNode } from 'react';
import { Link, match, navigate, useLocation } from './lib/router.js';
import { isOperator, signOut, useSession } from './lib/session.js';
import { SignIn } from './pages/SignIn.js';
import { Products } from './pages/shop/Products.js';
import { Cart } from './pages/shop/Cart.js';
import { OrderPage } from './pages/shop/Order.js';
import { MyOrders } from './pages/shop/MyOrders.js';
import { NewComplaint } from './pages/shop/NewComplaint.js';

// Operations pages are loaded on first use: a customer's shop never downloads them.
const Orders = lazy(() => import('./pages/ops/Orders.js'));
const Sagas = lazy(() => import('./pages/ops/Sagas.js'));
const SagaPage = lazy(() => import('./pages/ops/Saga.js'));
const Events = lazy(() => import('./pages/ops/Events.js'));
const DeadLetters = lazy(() => import('./pages/ops/DeadLetters.js'));
const Projections = lazy(() => import('./pages/ops/Projections.js'));
const EventStore = lazy(() => import('./pages/ops/EventStore.js'));
const Shipments = lazy(() => import('./pages/ops/Shipments.js'));
const Complaints = lazy(() => import('./pages/ops/Complaints.js'));
const Audit = lazy(() => import('./pages/ops/Audit.js'));
const Notifications = lazy(() => import('./pages/ops/Notifications.js'));
const Settings = lazy(() => import('./pages/ops/Settings.js'));

type Route = { pattern: string; render: (params: Record<string, string>) => ReactNode; operators?: boolean };

const ROUTES: Route[] = [
  { pattern: '/', render: () => <Products /> },
  { pattern: '/signin', render: () => <SignIn /> },
  { pattern: '/cart/:id', render: ({ id }) => <Cart cartId={id!} /> },
  { pattern: '/orders', render: () => <MyOrders /> },
  { pattern: '/orders/:id', render: ({ id }) => <OrderPage orderId={id!} /> },
  { pattern: '/complaints/new', render: () => <NewComplaint /> },
  { pattern: '/ops', render: () => <Orders />, operators: true },
  { pattern: '/ops/orders', render: () => <Orders />, operators: true },
  { pattern: '/ops/sagas', render: () => <Sagas />, operators: true },
  { pattern: '/ops/sagas/:id', render: ({ id }) => <SagaPage correlationId={id!} />, operators: true },
  { pattern: '/ops/events', render: () => <Events />, operators: true },
  { pattern: '/ops/dead-letters', render: () => <DeadLetters />, operators: true },
  { pattern: '/ops/projections', render: () => <Projections />, operators: true },
  { pattern: '/ops/event-store', render: () => <EventStore />, operators: true },
  { pattern: '/ops/shipments', render: () => <Shipments />, operators: true },
  { pattern: '/ops/complaints', render: () => <Complaints />, operators: true },
  { pattern: '/ops/audit', render: () => <Audit />, operators: true },
  { pattern: '/ops/notifications', render: () => <Notifications />, operators: true },
  { pattern: '/ops/settings', render: () => <Settings />, operators: true },
];

function OpsNav() {
  const sections: [string, string][] = [
    ['/ops/orders', 'Orders'],
    ['/ops/sagas', 'Sagas'],
    ['/ops/events', 'Events'],
    ['/ops/dead-letters', 'Dead letters'],
    ['/ops/projections', 'Projections'],
    ['/ops/event-store', 'Event store'],
    ['/ops/shipments', 'Shipments'],
    ['/ops/complaints', 'Complaints'],
    ['/ops/audit', 'Audit'],
    ['/ops/notifications', 'Notifications'],
    ['/ops/settings', 'Settings'],
  ];
  return (
    <nav className="side" aria-label="Operations">
      <ul>
        {sections.map(([href, label]) => (
          <li key={href}>
            <Link href={href}>{label}</Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function App() {
  const session = useSession();
  const { path } = useLocation();
  const found = ROUTES.map((route) => ({ route, params: match(route.pattern, path) })).find((candidate) => candidate.params);
  const ops = found?.route.operators === true;
  let body: ReactNode;
  if (!found) body = <p>No page at {path}.</p>;
  else if (!session && found.route.pattern !== '/signin') body = <SignIn next={path} />;
  else if (ops && !isOperator(session))
    body = <p role="alert">Operations are for agents and admins; you are signed in as a {session?.role}.</p>;
  else body = found.route.render(found.params!);
  return (
    <div className={ops ? 'app ops' : 'app'}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link href="/" className="brand">
          jetsaga
        </Link>
        <nav aria-label="Main">
          <Link href="/">Shop</Link>
          {session ? <Link href="/orders">My orders</Link> : null}
          {isOperator(session) ? <Link href="/ops/orders">Operations</Link> : null}
        </nav>
        <div className="who">
          {session ? (
            <>
              <span>
                {session.role} <code>{session.subject.slice(0, 13)}</code>
              </span>
              <button
                type="button"
                onClick={() => {
                  signOut();
                  navigate('/signin');
                }}
              >
                Sign out
              </button>
            </>
          ) : (
            <Link href="/signin">Sign in</Link>
          )}
        </div>
      </header>
      <div className="layout">
        {ops && isOperator(session) ? <OpsNav /> : null}
        <main id="main">
          <Suspense fallback={<p aria-busy="true">Loading…</p>}>{body}</Suspense>
        </main>
      </div>
    </div>
  );
}
