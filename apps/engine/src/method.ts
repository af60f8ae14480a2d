/**
 * Contexts for a method name: @aio/auto picks or forces the method; the power-loss runs wrap the
 * chosen method's factory in core's simulator.
 */
import { Aio, AIO_METHOD_NAMES, type AioMethodName } from '@aio/core';
import { chooseMethod, createAio } from '@aio/auto';
import { powerLoss, type AioPowerLossSimulator } from '@aio/core/testing';

export const ENGINE_MAX_CONCURRENCY = 64;

export type MethodChoiceName = AioMethodName | 'auto';

/** A bad command line or option: the CLI prints it with the usage and exits with status 2. */
export class UsageError extends Error {
  readonly code = 'ENGINE_USAGE';
}

export function parseMethod(name: string | undefined): MethodChoiceName {
  if (name === undefined || name === 'auto') return 'auto';
  if (!(AIO_METHOD_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`--method must be auto or one of ${AIO_METHOD_NAMES.join(', ')}, got ${JSON.stringify(name)}`);
  }
  return name as AioMethodName;
}

export function openAio(method: MethodChoiceName): Promise<Aio> {
  return createAio({ method, maxConcurrency: ENGINE_MAX_CONCURRENCY });
}

/** A context whose IO goes through the power-loss simulator, seeded. */
export async function openSimulatedAio(method: MethodChoiceName, seed: number): Promise<{ aio: Aio; sim: AioPowerLossSimulator }> {
  const { factory } = await chooseMethod({ method });
  const sim = powerLoss(factory, { seed });
  return { aio: new Aio({ method: sim, maxConcurrency: ENGINE_MAX_CONCURRENCY }), sim };
}

/** Whether a method works here (its probe passes), with the reason when not. */
export async function methodAvailable(method: AioMethodName): Promise<string | null> {
  try {
    const aio = await openAio(method);
    await aio.close();
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0];
  }
}
