// SPDX-License-Identifier: GPL-2.0
/*
 * The libmicrohttpd functions serve.c calls, forwarded to the library
 * loaded at run time (see include/mhd_dl.h). Before mhd_dl__open()
 * succeeded they fail the way the library documents failure (NULL, MHD_NO).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <microhttpd.h>
#include "mhd_dl.h"
#include "dl_syms.h"

/* Debian's libmicrohttpd12: the ABI that microhttpd.h describes */
#define MHD_SONAME "libmicrohttpd.so.12"

static struct {
	enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
	char *(*basic_auth_get_username_password)(struct MHD_Connection *, char **);
	struct MHD_Response *(*create_response_from_buffer)(size_t, void *,
							    enum MHD_ResponseMemoryMode);
	struct MHD_Response *(*create_response_from_buffer_with_free_callback_cls)(
	    size_t, void *, MHD_ContentReaderFreeCallback, void *);
	void (*destroy_response)(struct MHD_Response *);
	void (*free)(void *);
	enum MHD_Result (*is_feature_supported)(enum MHD_FEATURE);
	const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind,
					       const char *);
	enum MHD_Result (*queue_basic_auth_fail_response)(struct MHD_Connection *, const char *,
							  struct MHD_Response *);
	enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int,
					  struct MHD_Response *);
	void (*resume_connection)(struct MHD_Connection *);
	struct MHD_Daemon *(*start_daemon_va)(unsigned int, uint16_t, MHD_AcceptPolicyCallback,
					      void *, MHD_AccessHandlerCallback, void *, va_list);
	void (*stop_daemon)(struct MHD_Daemon *);
	void (*suspend_connection)(struct MHD_Connection *);
} mhd;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int open_err = -ENOENT;
static char open_why[256] = "not loaded";

static void load(void)
{
	static const struct dl_sym syms[] = {
		{ "MHD_add_response_header", (void **)&mhd.add_response_header },
		{ "MHD_basic_auth_get_username_password",
		  (void **)&mhd.basic_auth_get_username_password },
		{ "MHD_create_response_from_buffer", (void **)&mhd.create_response_from_buffer },
		{ "MHD_create_response_from_buffer_with_free_callback_cls",
		  (void **)&mhd.create_response_from_buffer_with_free_callback_cls },
		{ "MHD_destroy_response", (void **)&mhd.destroy_response },
		{ "MHD_free", (void **)&mhd.free },
		{ "MHD_is_feature_supported", (void **)&mhd.is_feature_supported },
		{ "MHD_lookup_connection_value", (void **)&mhd.lookup_connection_value },
		{ "MHD_queue_basic_auth_fail_response",
		  (void **)&mhd.queue_basic_auth_fail_response },
		{ "MHD_queue_response", (void **)&mhd.queue_response },
		{ "MHD_resume_connection", (void **)&mhd.resume_connection },
		{ "MHD_start_daemon_va", (void **)&mhd.start_daemon_va },
		{ "MHD_stop_daemon", (void **)&mhd.stop_daemon },
		{ "MHD_suspend_connection", (void **)&mhd.suspend_connection },
	};
	if (dl_syms__load(MHD_SONAME, syms, sizeof(syms) / sizeof(syms[0]), open_why,
			  sizeof(open_why)))
		return; /* serve exits on this error */
	open_err = 0;
	open_why[0] = '\0';
}

int mhd_dl__open(char *why, size_t len)
{
	pthread_once(&once, load);
	if (open_err && why && len)
		snprintf(why, len, "%s", open_why);
	return open_err;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header,
					const char *content)
{
	return mhd.add_response_header ? mhd.add_response_header(response, header, content)
				       : MHD_NO;
}

char *MHD_basic_auth_get_username_password(struct MHD_Connection *connection, char **password)
{
	if (password)
		*password = NULL;
	return mhd.basic_auth_get_username_password
		   ? mhd.basic_auth_get_username_password(connection, password)
		   : NULL;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
						     enum MHD_ResponseMemoryMode mode)
{
	return mhd.create_response_from_buffer ? mhd.create_response_from_buffer(size, buffer, mode)
					       : NULL;
}

struct MHD_Response *MHD_create_response_from_buffer_with_free_callback_cls(
    size_t size, void *buffer, MHD_ContentReaderFreeCallback crfc, void *crfc_cls)
{
	return mhd.create_response_from_buffer_with_free_callback_cls
		   ? mhd.create_response_from_buffer_with_free_callback_cls(size, buffer, crfc,
									    crfc_cls)
		   : NULL;
}

void MHD_destroy_response(struct MHD_Response *response)
{
	if (mhd.destroy_response)
		mhd.destroy_response(response);
}

void MHD_free(void *ptr)
{
	if (mhd.free)
		mhd.free(ptr);
}

enum MHD_Result MHD_is_feature_supported(enum MHD_FEATURE feature)
{
	return mhd.is_feature_supported ? mhd.is_feature_supported(feature) : MHD_NO;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
					const char *key)
{
	return mhd.lookup_connection_value ? mhd.lookup_connection_value(connection, kind, key)
					   : NULL;
}

enum MHD_Result MHD_queue_basic_auth_fail_response(struct MHD_Connection *connection,
						   const char *realm, struct MHD_Response *response)
{
	return mhd.queue_basic_auth_fail_response
		   ? mhd.queue_basic_auth_fail_response(connection, realm, response)
		   : MHD_NO;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
				   struct MHD_Response *response)
{
	return mhd.queue_response ? mhd.queue_response(connection, status_code, response) : MHD_NO;
}

void MHD_resume_connection(struct MHD_Connection *connection)
{
	if (mhd.resume_connection)
		mhd.resume_connection(connection);
}

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
				    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	struct MHD_Daemon *d;
	va_list ap;

	if (!mhd.start_daemon_va) {
		errno = ENOENT;
		return NULL;
	}
	va_start(ap, dh_cls);
	d = mhd.start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}

void MHD_stop_daemon(struct MHD_Daemon *daemon)
{
	if (mhd.stop_daemon)
		mhd.stop_daemon(daemon);
}

void MHD_suspend_connection(struct MHD_Connection *connection)
{
	if (mhd.suspend_connection)
		mhd.suspend_connection(connection);
}
