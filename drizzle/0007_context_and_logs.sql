CREATE TABLE "task_logs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "task_logs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"task_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"level" text NOT NULL,
	"message" text NOT NULL,
	"fields" jsonb,
	"time" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "task_logs_level_check" CHECK (level in ('debug', 'info', 'warn', 'error'))
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "context" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "log_lines" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "log_bytes" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "logs_dropped" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "task_logs_task_id_id_idx" ON "task_logs" USING btree ("task_id","id");