import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The Django backend during `npm run dev`. The Host header is kept as the browser sent it
// (no changeOrigin) so that Django's CSRF origin check sees matching Origin and Host.
const backend = 'http://127.0.0.1:8000';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The policy editor (CodeMirror 6 + Ajv, ~660 kB) is its own chunk, loaded only when the editor
    // opens; the main bundle stays well under the default 500 kB.
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: {
      '/api/': backend,
      '/healthz': backend,
      '/readyz': backend,
      '/metrics': backend,
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
