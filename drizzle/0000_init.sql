CREATE TABLE "task_types" (
	"name" text PRIMARY KEY NOT NULL,
	"input_type" text NOT NULL,
	"output_type" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"defaults" jsonb NOT NULL,
	"descriptors" "bytea" NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"queue" text NOT NULL,
	"priority" integer NOT NULL,
	"state" text NOT NULL,
	"input_type_url" text NOT NULL,
	"input" "bytea" NOT NULL,
	"output_type_url" text,
	"output" "bytea",
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"progress" jsonb,
	"timeout_ms" bigint,
	"backoff" jsonb NOT NULL,
	"idempotency_key" text,
	"worker_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"scheduled_at" timestamp (3) with time zone NOT NULL,
	"started_at" timestamp (3) with time zone,
	"finished_at" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"transitions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	CONSTRAINT "tasks_idempotency_key_unique" UNIQUE("idempotency_key"),
	CONSTRAINT "tasks_state_check" CHECK (state in ('SCHEDULED', 'QUEUED', 'RUNNING', 'CANCELLING', 'SUCCEEDED', 'FAILED', 'CANCELLED'))
);
--> statement-breakpoint
CREATE TABLE "workers" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"pid" integer NOT NULL,
	"queues" text[] NOT NULL,
	"slots" integer NOT NULL,
	"types" text[] NOT NULL,
	"sdk" text NOT NULL,
	"session_id" text NOT NULL,
	"connected_at" timestamp (3) with time zone NOT NULL,
	"last_seen_at" timestamp (3) with time zone NOT NULL,
	"disconnected_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE INDEX "tasks_state_id_idx" ON "tasks" USING btree ("state","id");--> statement-breakpoint
CREATE INDEX "tasks_type_id_idx" ON "tasks" USING btree ("type","id");--> statement-breakpoint
CREATE INDEX "tasks_queue_id_idx" ON "tasks" USING btree ("queue","id");--> statement-breakpoint
CREATE INDEX "tasks_unfinished_id_idx" ON "tasks" USING btree ("id") WHERE state in ('QUEUED', 'SCHEDULED', 'RUNNING', 'CANCELLING');