CREATE TABLE "task_minute_stats" (
	"minute" timestamp (3) with time zone PRIMARY KEY NOT NULL,
	"succeeded" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"cancelled" integer DEFAULT 0 NOT NULL,
	"started" integer DEFAULT 0 NOT NULL,
	"wait_buckets" integer[] NOT NULL
);
