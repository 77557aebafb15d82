#include "sysinfo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "fsutil.h"

int cmdline_get(const char *path, const char *key, char *out, size_t size, struct error *e)
{
	char *text = NULL, *save = NULL;
	size_t klen = strlen(key);
	int rc = read_text_file(path, 65536, &text, e);
	if (rc < 0)
		return rc;
	rc = err_set(e, UPD_EXIT_OTHER, ENOENT, "%s: no %s= on the kernel command line", path, key);
	for (char *w = strtok_r(text, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		if (strncmp(w, key, klen) != 0 || w[klen] != '=')
			continue;
		if (strlen(w + klen + 1) >= size) {
			rc = err_set(e, UPD_EXIT_OTHER, ENAMETOOLONG, "%s: %s= value too long", path, key);
			break;
		}
		strcpy(out, w + klen + 1);
		err_clear(e);
		rc = 0; /* the last occurrence wins, as for the kernel */
	}
	free(text);
	return rc;
}

int cmdline_system(const char *path, const char *what, const char *const *ids,
		   const char *expected, char *out, size_t size, struct error *e)
{
	int rc = cmdline_get(path, "updater.slot", out, size, e);

	if (rc < 0) {
		err_prefix(e, "%s", what);
		return rc;
	}
	for (; *ids; ids++)
		if (strcmp(out, *ids) == 0)
			return 0;
	return err_set(e, UPD_EXIT_OTHER, EINVAL, "%s: %s: updater.slot=%s is not %s", what, path,
		       out, expected);
}

static void unquote(char *v)
{
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		memmove(v, v + 1, n - 2);
		v[n - 2] = '\0';
	}
}

int os_release_version(const char *path, char *out, size_t size, struct error *e)
{
	char *text = NULL, *save = NULL;
	int rc = read_text_file(path, 65536, &text, e);
	if (rc < 0)
		return rc;
	rc = err_set(e, UPD_EXIT_OTHER, ENOENT, "%s: no VERSION_ID", path);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "VERSION_ID=", 11) != 0)
			continue;
		unquote(l + 11);
		snprintf(out, size, "%s", l + 11);
		err_clear(e);
		rc = 0;
		break;
	}
	free(text);
	return rc;
}
