// Preloaded (NODE_OPTIONS=--require) into every Node process and worker of a
// cross-platform test run, so the workspace's packages load the addons built
// for that platform without any change to their loaders:
//
// - AIO_ADDON_PLATFORM=<platform id> (linux-arm64-gnu): a load of
//   .../build/Release/<addon>.node loads .../build/<platform id>/<addon>.node
//   instead.  A missing file stays missing (the load fails and the method is
//   skipped with that error), so a host binary is never tested by mistake.
// - AIO_NODE_WRAPPER=<path>: becomes process.execPath, for Node binaries that
//   only start through a wrapper (qemu-user without binfmt_misc), so the
//   child processes of tests run the same Node the same way.
// (Linux only, hence '/' as the separator and no require() of node:path.)
'use strict';

const platform = process.env.AIO_ADDON_PLATFORM;
if (platform) {
  const release = '/build/Release/';
  const dlopen = process.dlopen;
  process.dlopen = function dlopenForPlatform(module, filename, ...rest) {
    const redirected = filename.includes(release) ? filename.replace(release, `/build/${platform}/`) : filename;
    return dlopen.call(this, module, redirected, ...rest);
  };
}
if (process.env.AIO_NODE_WRAPPER) process.execPath = process.env.AIO_NODE_WRAPPER;
