package store_test
const crashEnv = "SMP_STORE_CRASH_DSN"
