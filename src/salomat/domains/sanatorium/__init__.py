"""The electronic sanatorium: referrals, one public queue, free places, offers, stays."""
