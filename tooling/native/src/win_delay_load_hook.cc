// Delay-load hook linked into every win32 addon that build-windows.mjs makes.
//
// Why: a Windows addon imports napi_* from the module named in node_api.def,
// "NODE.EXE".  Imported the ordinary way, the loader would look for a module of
// that name, so the addon would fail to load in a host with another name
// (a renamed node.exe, Electron, a test harness embedding Node).  The addon is
// therefore linked against a *delay-load* import library: nothing is resolved
// at load time, and on the first napi_* call __delayLoadHelper2 (mingw-w64's
// libmingwex) asks this hook for the module.  The hook answers "the executable
// this process was started from", which is the module that really exports the
// Node-API.  node-gyp links an equivalent hook into addons it builds on Windows.
//
// The mingw-w64 header declares the pointer non-const (MSVC's is const); this
// definition must match it.  Defining it here keeps libmingwex's default
// (a null pointer in its own archive member) out of the link.

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <delayimp.h>

namespace {

FARPROC WINAPI aio_delay_load_hook(unsigned event, PDelayLoadInfo info) {
  // Only the "about to LoadLibrary" notification can substitute a module;
  // returning null everywhere else lets the helper do its default work.
  if (event != dliNotePreLoadLibrary) return nullptr;
  // Any other delay-loaded DLL a backend might add is loaded normally.
  if (lstrcmpiA(info->szDll, "node.exe") != 0) return nullptr;
  return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
}

}  // namespace

// <delayimp.h> already declared it extern "C", so this definition has C linkage.
PfnDliHook __pfnDliNotifyHook2 = aio_delay_load_hook;
