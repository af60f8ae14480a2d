import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Aio, syncMethod } from '@aio/core';
import { assertQuiescent } from '@aio/core/testing';
import { closeContext, configure, getContext, open, readFile, setContext, writeFile } from '../src/index.js';
import { scratchDir, TEXT } from './parity.js';

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

describe('the context of each thread', () => {
  afterEach(async () => {
    setContext(null);
    await closeContext();
    configure({});
  });

  it('open() without a configured context creates one with @aio/auto and every handle of the thread shares it', async () => {
    const dir = scratchDir({ 'a.txt': TEXT, 'b.txt': TEXT });
    const a = await open(path.join(dir, 'a.txt'));
    const b = await open(path.join(dir, 'b.txt'));
    expect(a.aio).toBe(b.aio);
    expect(a.aio).toBe(await getContext());
    expect((await a.read(Buffer.alloc(3), 0, 3, 0)).buffer.toString()).toBe('The');
    await Promise.all([a.close(), b.close()]);
    assertQuiescent(a.aio);
  });

  it('concurrent first opens share the one context they create', async () => {
    configure({ method: 'sync' });
    const dir = scratchDir({ 'a.txt': TEXT });
    const handles = await Promise.all([1, 2, 3].map(() => open(path.join(dir, 'a.txt'))));
    expect(new Set(handles.map((h) => h.aio)).size).toBe(1);
    await Promise.all(handles.map((h) => h.close()));
  });

  it('configure() while the first context is being created wins: the open gets a context made from the new configuration', async () => {
    configure({ method: 'sync', maxConcurrency: 3 });
    const dir = scratchDir({ 'a.txt': TEXT });
    const opening = open(path.join(dir, 'a.txt'));
    configure({ method: 'sync', maxConcurrency: 5 });
    const h = await opening;
    expect(h.aio.maxConcurrency).toBe(5);
    expect(h.aio).toBe(await getContext());
    expect(h.aio.inspect()).toEqual([]);
    await h.close();
  });

  it('configure() chooses the method and the number of handles of the default context', async () => {
    configure({ method: 'sync', maxConcurrency: 4 });
    const dir = scratchDir({ 'a.txt': TEXT });
    const h = await open(path.join(dir, 'a.txt'));
    expect(h.aio.methodName).toBe('sync');
    expect(h.aio.maxConcurrency).toBe(4);
    await h.close();
  });

  it('configure() refuses to replace a default context that open handles use, and works once they are closed', async () => {
    configure({ method: 'sync' });
    const dir = scratchDir({ 'a.txt': TEXT });
    const h = await open(path.join(dir, 'a.txt'));
    expect(() => configure({ method: 'sync', maxConcurrency: 2 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    await h.close();
    expect(() => configure({ method: 'sync', maxConcurrency: 2 })).not.toThrow();
    expect(h.aio.closed).toBe(true);
  });

  it('a method that cannot work here makes open() reject, not throw, and the fd node:fs opened is closed again', async () => {
    configure({ method: process.platform === 'linux' ? 'kqueue' : 'io_uring' });
    const dir = scratchDir({ 'a.txt': TEXT });
    const before = openFds();
    let promise: Promise<unknown> | undefined;
    expect(() => (promise = open(path.join(dir, 'a.txt')))).not.toThrow();
    await expect(promise).rejects.toMatchObject({ code: 'AIO_ERR_METHOD_UNAVAILABLE' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(openFds()).toBe(before);
  });

  it('setContext() hands in a context that @aio/fs uses and never closes', async () => {
    const aio = new Aio({ method: syncMethod(), maxConcurrency: 2 });
    setContext(aio);
    const dir = scratchDir({ 'a.txt': TEXT });
    await writeFile(path.join(dir, 'b.txt'), 'via the handed-in context');
    expect(await readFile(path.join(dir, 'b.txt'), 'utf8')).toBe('via the handed-in context');
    setContext(null);
    expect(aio.closed).toBe(false);
    assertQuiescent(aio);
    await aio.close();
  });

  it("open()'s aio option runs one handle on another context", async () => {
    const aio = new Aio({ method: syncMethod(), maxConcurrency: 2 });
    const dir = scratchDir({ 'a.txt': TEXT });
    const h = await open(path.join(dir, 'a.txt'), 'r', undefined, { aio });
    expect(h.aio).toBe(aio);
    expect((await h.read(Buffer.alloc(5), 0, 5, 4)).buffer.toString()).toBe('quick');
    await h.close();
    await aio.close();
  });

  it("bad aio options reject with ERR_INVALID_ARG_TYPE", async () => {
    const dir = scratchDir({ 'a.txt': TEXT });
    const file = path.join(dir, 'a.txt');
    await expect(open(file, 'r', undefined, 'direct' as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(open(file, 'r', undefined, { direct: 1 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(open(file, 'r', undefined, { aio: {} as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(() => configure(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('a context closed under open handles makes their IO reject with EBADF "file closed"', async () => {
    const aio = new Aio({ method: syncMethod(), maxConcurrency: 2 });
    const dir = scratchDir({ 'a.txt': TEXT });
    const h = await open(path.join(dir, 'a.txt'), 'r', undefined, { aio });
    await aio.close();
    await expect(h.read(Buffer.alloc(4), 0, 4, 0)).rejects.toMatchObject({ code: 'EBADF', message: 'file closed', syscall: 'read' });
    await expect(h.sync()).rejects.toMatchObject({ code: 'EBADF', syscall: 'fsync' });
  });
});
