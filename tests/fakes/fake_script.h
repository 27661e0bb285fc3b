/* A scripted GPU for the fake driver libraries: `key=value` lines from the file named by
 * FAKE_GPU_SCRIPT, re-read by each library's init call so one loaded library can play many
 * scenarios. Every exported call is appended to FAKE_GPU_LOG (when set), so tests can check which
 * driver calls the probe made. Test-only code. */
#ifndef FAKE_SCRIPT_H
#define FAKE_SCRIPT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAKE_MAX_ENTRIES 512
#define FAKE_MAX_TEXT 256

static char fake_keys[FAKE_MAX_ENTRIES][FAKE_MAX_TEXT];
static char fake_values[FAKE_MAX_ENTRIES][FAKE_MAX_TEXT];
static int fake_entries = 0;

static void fake_load_script(void) {
  fake_entries = 0;
  const char* path = getenv("FAKE_GPU_SCRIPT");
  FILE* f = path ? fopen(path, "r") : NULL;
  if (!f) return;
  char line[2 * FAKE_MAX_TEXT];
  while (fake_entries < FAKE_MAX_ENTRIES && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    char* eq = strchr(line, '=');
    if (!eq || line[0] == '#') continue;
    *eq = 0;
    snprintf(fake_keys[fake_entries], FAKE_MAX_TEXT, "%.255s", line);
    snprintf(fake_values[fake_entries], FAKE_MAX_TEXT, "%.255s", eq + 1);
    fake_entries++;
  }
  fclose(f);
}

static const char* fake_get(const char* key) {
  for (int i = 0; i < fake_entries; i++)
    if (strcmp(fake_keys[i], key) == 0) return fake_values[i];
  return NULL;
}

static long long fake_int(const char* key, long long fallback) {
  const char* v = fake_get(key);
  return v ? strtoll(v, NULL, 0) : fallback;
}

static const char* fake_device_get(int gpu, const char* field) {
  char key[FAKE_MAX_TEXT];
  snprintf(key, sizeof key, "gpu.%d.%s", gpu, field);
  return fake_get(key);
}

static long long fake_device_int(int gpu, const char* field, long long fallback) {
  const char* v = fake_device_get(gpu, field);
  return v ? strtoll(v, NULL, 0) : fallback;
}

static void fake_note(const char* call) {
  const char* path = getenv("FAKE_GPU_LOG");
  FILE* f = path ? fopen(path, "a") : NULL;
  if (!f) return;
  fprintf(f, "%s\n", call);
  fclose(f);
}

/* `<prefix>.fail.<call>=<code>` makes a call return that code; `<prefix>.hang=<call>` makes it sleep
 * for <prefix>.hang_seconds (default 20): long enough to trip the probe's time limit, short enough that
 * no test process lingers. */
static int fake_scripted(const char* prefix, const char* call) {
  char key[FAKE_MAX_TEXT];
  fake_note(call);
  snprintf(key, sizeof key, "%s.hang", prefix);
  const char* hang = fake_get(key);
  if (hang && strcmp(hang, call) == 0) {
    snprintf(key, sizeof key, "%s.hang_seconds", prefix);
    sleep((unsigned)fake_int(key, 20));
  }
  snprintf(key, sizeof key, "%s.fail.%s", prefix, call);
  return (int)fake_int(key, 0);
}

#endif
