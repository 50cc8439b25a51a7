import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ErrorNote, Field, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { money } from '../../lib/format.js';
import { Link, navigate, useLocation } from '../../lib/router.js';
import { isOperator, useSession } from '../../lib/session.js';
import { addToCart, useCartId } from './cart-state.js';

type Product = { id: string; sku: string; name: string; priceCents: number; available: number; reserved: number };

function Buy({ product }: { product: { id: string; available: number } }) {
  const session = useSession()!;
  const [quantity, setQuantity] = useState(1);
  const [customerId, cartId] = useCartId();
  const client = useQueryClient();
  const add = useMutation({
    mutationFn: () => addToCart(session, customerId, cartId, product.id, quantity),
    onSuccess: (cart) => {
      void client.invalidateQueries({ queryKey: ['cart'] });
      navigate(`/cart/${cart.id}`);
    },
  });
  return (
    <form
      className="buy"
      onSubmit={(event) => {
        event.preventDefault();
        add.mutate();
      }}
    >
      <label>
        <span className="sr-only">Quantity</span>
        <input
          type="number"
          min={1}
          max={99}
          value={quantity}
          onChange={(event) => setQuantity(Number(event.target.value))}
          aria-label="Quantity"
        />
      </label>
      <button type="submit" disabled={add.isPending || product.available < 1}>
        Add to cart
      </button>
      <ErrorNote error={add.error} />
    </form>
  );
}

/**
 * The catalogue: inventory's product list, a page at a time (the server's cursor); operators see the SKU and the units
 * held by pending orders too (sold units per product are in the stock report, GET /api/reports/stock).
 */
function Catalogue({ operator }: { operator: boolean }) {
  const cursor = useCursor();
  const list = useQuery({
    queryKey: ['products', cursor.after],
    queryFn: () => api<{ products: Product[]; next: string | null }>(`/api/products${query({ after: cursor.after, limit: 25 })}`),
    placeholderData: (previous) => previous,
  });
  return (
    <Section title="Products">
      <ErrorNote error={list.error} />
      <table aria-label="Products">
        <thead>
          <tr>
            <th scope="col">Product</th>
            {operator ? <th scope="col">SKU</th> : null}
            <th scope="col">Price</th>
            <th scope="col">Available</th>
            {operator ? <th scope="col">Reserved</th> : null}
            <th scope="col">
              <span className="sr-only">Buy</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list.data?.products.map((product) => (
            <tr key={product.id}>
              <td>
                <Link href={`/?product=${product.id}`}>{product.name}</Link>
              </td>
              {operator ? (
                <td>
                  <code>{product.sku}</code>
                </td>
              ) : null}
              <td>{money(product.priceCents)}</td>
              <td>{product.available}</td>
              {operator ? <td>{product.reserved}</td> : null}
              <td>
                <Buy product={product} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data?.products.length === 0 ? <p>No products yet.</p> : null}
      {cursor.pager(list.data?.next)}
    </Section>
  );
}

/** One product, opened from the list or by its id (a link shared with a customer). */
function ProductById({ id }: { id: string }) {
  const product = useQuery({ queryKey: ['product', id], queryFn: () => api<Product>(`/api/products/${id}`) });
  if (product.error) return <ErrorNote error={product.error} />;
  if (!product.data) return <p aria-busy="true">Loading…</p>;
  return (
    <Section title={product.data.name}>
      <p>
        {money(product.data.priceCents)} · {product.data.available} available · <code>{product.data.sku}</code>
      </p>
      <Buy product={product.data} />
    </Section>
  );
}

function NewProduct() {
  const client = useQueryClient();
  const [form, setForm] = useState({ sku: '', name: '', price: '25.00', stock: '10' });
  const create = useMutation({
    mutationFn: () =>
      api<Product>('/api/products', {
        method: 'POST',
        body: { sku: form.sku, name: form.name, priceCents: Math.round(Number(form.price) * 100), stock: Number(form.stock) },
      }),
    onSuccess: () => {
      setForm({ ...form, sku: '', name: '' });
      void client.invalidateQueries({ queryKey: ['products'] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <Section title="New product">
      <form className="row" onSubmit={submit}>
        <Field label="SKU">
          <input required value={form.sku} onChange={(event) => setForm({ ...form, sku: event.target.value })} />
        </Field>
        <Field label="Name">
          <input required value={form.name} onChange={(event) => setForm({ ...form, name: event.target.value })} />
        </Field>
        <Field label="Price (€)">
          <input inputMode="decimal" value={form.price} onChange={(event) => setForm({ ...form, price: event.target.value })} />
        </Field>
        <Field label="Stock">
          <input type="number" min={0} value={form.stock} onChange={(event) => setForm({ ...form, stock: event.target.value })} />
        </Field>
        <button type="submit" disabled={create.isPending}>
          Add product
        </button>
      </form>
      <ErrorNote error={create.error} />
    </Section>
  );
}

export function Products() {
  const session = useSession();
  const { search } = useLocation();
  const [lookup, setLookup] = useState('');
  const productId = search.get('product');
  return (
    <>
      <h1>Shop</h1>
      {productId ? (
        <>
          <ProductById id={productId} />
          <Link href="/">All products</Link>
        </>
      ) : (
        <Catalogue operator={isOperator(session)} />
      )}
      {session?.role === 'admin' ? <NewProduct /> : null}
      {!isOperator(session) && !productId ? (
        <Section title="Find a product">
          <form
            className="row"
            onSubmit={(event) => {
              event.preventDefault();
              navigate(`/?product=${encodeURIComponent(lookup.trim())}`);
            }}
          >
            <Field label="Product id">
              <input value={lookup} onChange={(event) => setLookup(event.target.value)} />
            </Field>
            <button type="submit">Open</button>
          </form>
        </Section>
      ) : null}
    </>
  );
}
