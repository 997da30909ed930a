CREATE TABLE "dispatch_limits" (
	"scope" text NOT NULL,
	"name" text NOT NULL,
	"concurrency" integer,
	"per_key" integer,
	"rate_count" integer,
	"rate_interval_ms" bigint,
	"key_rate_count" integer,
	"key_rate_interval_ms" bigint,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dispatch_limits_scope_name_pk" PRIMARY KEY("scope","name"),
	CONSTRAINT "dispatch_limits_scope_check" CHECK (scope in ('type', 'queue'))
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "concurrency_key" text;