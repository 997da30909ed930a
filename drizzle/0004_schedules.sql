CREATE TABLE "schedules" (
	"id" text PRIMARY KEY NOT NULL,
	"spec" jsonb NOT NULL,
	"type" text NOT NULL,
	"input_type_url" text NOT NULL,
	"input" "bytea" NOT NULL,
	"options" jsonb NOT NULL,
	"overlap" text NOT NULL,
	"catch_up" text NOT NULL,
	"catch_up_limit" integer NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"paused_at" timestamp (3) with time zone,
	"next_fire_at" timestamp (3) with time zone,
	"last_fire_at" timestamp (3) with time zone,
	"last_task_id" uuid,
	"last_error" text,
	"source" text NOT NULL,
	"declared_hash" text,
	"revision" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "labels" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
CREATE INDEX "schedules_due_idx" ON "schedules" USING btree ("next_fire_at") WHERE next_fire_at is not null;--> statement-breakpoint
CREATE INDEX "schedules_type_id_idx" ON "schedules" USING btree ("type","id");--> statement-breakpoint
CREATE INDEX "tasks_labels_idx" ON "tasks" USING gin ("labels" jsonb_path_ops);