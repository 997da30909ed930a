CREATE TABLE "queue_settings" (
	"queue" text PRIMARY KEY NOT NULL,
	"paused_at" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "servers" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"pid" integer NOT NULL,
	"version" text NOT NULL,
	"address" text NOT NULL,
	"state" text NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"last_heartbeat_at" timestamp (3) with time zone NOT NULL,
	"worker_count" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tasks" DROP CONSTRAINT "tasks_state_check";--> statement-breakpoint
ALTER TABLE "workers" ADD COLUMN "server_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "workers" ADD COLUMN "state" text DEFAULT 'CONNECTED' NOT NULL;--> statement-breakpoint
CREATE INDEX "tasks_finished_at_idx" ON "tasks" USING btree ("finished_at") WHERE state in ('SUCCEEDED', 'FAILED', 'CANCELLED');--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_state_check" CHECK (state in ('QUEUED', 'SCHEDULED', 'RUNNING', 'CANCELLING', 'SUCCEEDED', 'FAILED', 'CANCELLED'));