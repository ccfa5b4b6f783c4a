-- The engine writes each enrollment and message row a few times per step. An update that
-- changes no indexed column and finds room on its page is HOT: no index is touched. So the
-- tables leave room on their pages, and the per-node index (its counts read a campaign's
-- rows through enrollments_campaign_status just as well) goes, since current_node changes
-- with every step.
DROP INDEX enrollments_campaign_node;
ALTER TABLE enrollments SET (fillfactor = 80);
ALTER TABLE messages SET (fillfactor = 85);
