// Unit tests never touch the network: the SDK is mocked, and no endpoint or real credential is visible.
delete process.env.AWS_ENDPOINT_URL;
delete process.env.AWS_PROFILE;
process.env.AWS_ACCESS_KEY_ID = 'unit-test';
process.env.AWS_SECRET_ACCESS_KEY = 'unit-test';
process.env.AWS_REGION = 'us-east-1';
process.env.LOG_LEVEL ??= 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
