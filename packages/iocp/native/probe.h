/*
 * probe.h: the live check behind the iocp method's probe().
 */
#ifndef AIO_IOCP_PROBE_H
#define AIO_IOCP_PROBE_H

typedef struct iocp_probe_result {
  int available;
  int skip_on_success; /* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS could be set on a file */
  char reason[256];
  char code[32];       /* why not, machine-readable, when unavailable */
  char wine[32];       /* Wine's version when running under Wine, else empty */
} iocp_probe_result;

/*
 * Creates a completion port and a temporary file, associates them, and
 * writes and reads back one block with overlapped IO through the port.
 * Never throws; everything it creates is gone when it returns.
 */
void iocp_probe(iocp_probe_result *out);

#endif /* AIO_IOCP_PROBE_H */
