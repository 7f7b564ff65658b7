// Firefox defaults for the desktop the model drives (installed as
// /etc/firefox-esr/computer-use.js by image/provision.sh --system).
// Scrollbars always shown: a screenshot tells how far a page is scrolled, and
// no scrollbar fades out a second after each load or scroll.
pref("widget.gtk.overlay-scrollbars.enabled", false);
