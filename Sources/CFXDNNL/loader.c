/*
 * loader.c — see dnnl_api.h: loads libdnnl.so.2 with dlopen and resolves its functions once.
 */
#include "dnnl_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static cfx_dnnl_api api;
static const cfx_dnnl_api *loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

/* CFX_DNNL=off (or 0): the fallback path, for tests and for comparing the two. */
static int disabled(void) {
    const char *setting = getenv("CFX_DNNL");
    return setting && (strcmp(setting, "off") == 0 || strcmp(setting, "0") == 0);
}

static void load(void) {
    if (disabled()) return;
    void *library = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!library) return;
    int ok = 1;
    /* dlsym searches the library and then its dependencies (omp_set_num_threads: libgomp). */
#define CFX_DNNL_RESOLVE(name) ok = ok && (*(void **)&api.name = dlsym(library, #name)) != NULL;
    CFX_DNNL_FUNCTIONS(CFX_DNNL_RESOLVE)
    CFX_DNNL_RESOLVE(omp_set_num_threads)
#undef CFX_DNNL_RESOLVE
    if (ok) {
        loaded = &api;
    } else {
        dlclose(library);
    }
}

const cfx_dnnl_api *cfx_dnnl_api_get(void) {
    pthread_once(&load_once, load);
    return loaded;
}
