// Builds the console into console/dist: static files only, served by the gateway at `/` of the API address.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  // The gateway's Content-Security-Policy allows scripts and styles from the page's own origin only.
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, assetsInlineLimit: 0, modulePreload: { polyfill: false } },
  oxc: { jsx: { runtime: 'automatic' } },
  server: { proxy: { '/api': process.env.AGENTGATE_API ?? 'http://127.0.0.1:8080' } },
  logLevel: 'warn',
});
