/*
 * A stand-in for FreeBSD's libc.so.7 at link time only: it defines kevent
 * under the symbol version FBSD_1.5 (see kevent.map), so that the addon's
 * reference to kevent carries that version.  Never shipped, never loaded.
 */
int kevent(void) {
  return -1;
}
