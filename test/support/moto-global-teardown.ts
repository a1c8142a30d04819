import type { Emulator } from '../../bin/support/moto';

export default async function teardown(): Promise<void> {
  await (globalThis as { __moto?: Emulator }).__moto?.stop();
}
