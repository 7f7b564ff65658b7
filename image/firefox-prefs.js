// Firefox defaults for the desktop the model drives (installed as
// /etc/firefox-esr/computer-use.js by image/provision.sh --system).
// Scrollbars always shown: a screenshot tells how far a page is scrolled, and
// no scrollbar fades out a second after each load or scroll.
pref("widget.gtk.overlay-scrollbars.enabled", false);
// Reduced motion: no loading sweep across the tab and no transitions, so a
// page is still (and the computer tool's screenshot taken) as soon as it is
// drawn, about 0.35 s sooner per page load.
pref("ui.prefersReducedMotion", 1);
