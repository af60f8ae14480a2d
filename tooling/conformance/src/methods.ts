/**
 * The methods the suite knows, and how to load each one.  A method is
 * loaded from its package's `method()` export; a method that is not
 * installed, or whose probe fails, is skipped with the reason.
 */
import { existsSync } from 'node:fs';
import { libuvMethod, syncMethod, type AioMethodFactory, type AioMethodName, AIO_METHOD_NAMES } from '@aio/core';

/** The package that provides each method. */
export const METHOD_PACKAGES: Readonly<Record<AioMethodName, string>> = {
  io_uring: '@aio/io-uring',
  iocp: '@aio/iocp',
  kqueue: '@aio/kqueue',
  posix_aio: '@aio/posix-aio',
  threadpool: '@aio/threadpool',
  libuv: '@aio/core',
  sync: '@aio/core',
};

/**
 * Imports a method's package: by name when it is installed next to the
 * suite, else from this workspace's `packages/` folder (so a backend being
 * developed is tested without first being declared a dependency here).
 */
async function importMethodPackage(specifier: string): Promise<{ method?: () => AioMethodFactory }> {
  try {
    return (await import(specifier)) as { method?: () => AioMethodFactory };
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' || !String(error).includes(specifier)) throw error;
    const folder = specifier.replace('@aio/', '');
    const inWorkspace = new URL(`../../../packages/${folder}/dist/index.js`, import.meta.url);
    if (!existsSync(inWorkspace)) throw Object.assign(new Error(`not installed (npm i ${specifier})`), { notInstalled: true });
    return (await import(inWorkspace.href)) as { method?: () => AioMethodFactory };
  }
}

export interface MethodUnderTest {
  readonly name: AioMethodName;
  /** Present when the method can run here. */
  readonly factory?: AioMethodFactory;
  /** Why the method cannot run here. */
  readonly skip?: string;
}

/** Loads one method: imports its package and runs its probe. */
export async function loadMethod(name: AioMethodName): Promise<MethodUnderTest> {
  if (name === 'sync') return { name, factory: syncMethod() };
  if (name === 'libuv') return { name, factory: libuvMethod() };
  const specifier = METHOD_PACKAGES[name];
  let module: { method?: () => AioMethodFactory };
  try {
    module = await importMethodPackage(specifier);
  } catch (error) {
    const message = (error as Error).message.split('\n')[0];
    return { name, skip: (error as { notInstalled?: boolean }).notInstalled === true ? message : `package failed to load: ${message}` };
  }
  if (typeof module.method !== 'function') return { name, skip: `${specifier} has no method() export` };
  const factory = module.method();
  const probe = factory.probe();
  if (!probe.available) return { name, skip: probe.reason };
  return { name, factory };
}

/**
 * Whether a method can block the thread until an IO completes (`waitSync`, a
 * blocking `acquire`, `closeSync` with IO in flight).  Only libuv cannot: its
 * results reach JavaScript through callbacks on a later event-loop turn, so
 * it has no `waitOne` and those calls throw AIO_ERR_CANNOT_WAIT.
 */
export function canWaitSync(name: AioMethodName): boolean {
  return name !== 'libuv';
}

/**
 * The methods selected by AIO_CONFORMANCE_METHODS (a comma list, or `all`,
 * the default).  Throws for a name that is not a method.
 */
export function selectedMethodNames(value = process.env.AIO_CONFORMANCE_METHODS ?? 'all'): AioMethodName[] {
  if (value === 'all' || value === '') return [...AIO_METHOD_NAMES];
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(AIO_METHOD_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown method ${JSON.stringify(name)}; methods are ${AIO_METHOD_NAMES.join(', ')}`);
    }
  }
  return names as AioMethodName[];
}
