// Integration tests talk to the moto server the global setup started.
if (!process.env.AWS_ENDPOINT_URL?.startsWith('http://127.0.0.1:')) {
  throw new Error('integration tests need the moto server of test/support/moto-global-setup.ts');
}
process.env.LOG_LEVEL ??= 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
