import { emulatorEnv, startMoto } from '../../bin/support/moto';

/** Starts one moto server for the integration suite; the environment reaches every test worker. */
export default async function setup(): Promise<void> {
  const moto = await startMoto();
  (globalThis as { __moto?: typeof moto }).__moto = moto;
  Object.assign(process.env, emulatorEnv(moto.endpoint));
}
