import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `npm run dev:web`: the console with hot reload on :5173, the API of a running system (npm start) behind it.
const gateway = process.env.JETSAGA_GATEWAY_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      '/api': { target: gateway, changeOrigin: true },
      '/console': { target: gateway, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The budget check (build.mjs) reads which chunks index.html loads first.
    manifest: true,
    sourcemap: false,
    // Mermaid's lazy chunks are large by nature; the budget that matters is the initial one (build.mjs).
    chunkSizeWarningLimit: 3000,
  },
});
