// The example service: answers with the stage and the release it runs.
exports.handler = async () => ({
  statusCode: 200,
  body: JSON.stringify({ service: 'orders-api', stage: process.env.STAGE, release: process.env.RELEASE_KEY }),
});
