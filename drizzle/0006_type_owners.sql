CREATE TABLE "task_type_owners" (
	"name" text PRIMARY KEY NOT NULL,
	"owner" text,
	"contract_reset" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "workers" ADD COLUMN "owner" text;